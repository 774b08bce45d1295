//! The six dashboard queries on the N = 10,000 benchmark data set give the reference
//! answers (computed by DuckDB and Polars, which agree) — floats within 1e-9 relative.

mod bench_queries;

use serde_json::Value;

const FIXTURE: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/transitions_n10000_s42.csv");
const REFERENCE: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/reference_n10000_s42.json");

fn reference() -> Value {
    let text = std::fs::read_to_string(REFERENCE).expect("reference file");
    serde_json::from_str(&text).expect("reference JSON")
}

#[test]
fn the_six_queries_equal_the_reference_answers() {
    let log = bench_queries::load(FIXTURE);
    let expected = reference();
    assert_eq!(Some(log.len() as u64), expected["rows"].as_u64());
    assert_eq!(Some(log.contacts().len() as u64), expected["contacts"].as_u64());
    let actual = bench_queries::run_all(&log, |_, _| {});
    let diffs = bench_queries::differences(&actual["queries"], &expected["queries"], 1e-9);
    assert!(diffs.is_empty(), "{} differences, first: {:#?}", diffs.len(), &diffs[..diffs.len().min(10)]);
}

#[test]
fn the_checker_sees_a_changed_answer() {
    let expected = reference();
    let mut changed = expected.clone();
    changed["queries"]["Q5_time_in_stage"][0][2] = serde_json::json!(461401.5 * (1.0 + 1e-8));
    assert_eq!(bench_queries::differences(&changed, &expected, 1e-9).len(), 1);
    changed["queries"]["Q1_current_stage"][0][1] = serde_json::json!(1689);
    assert_eq!(bench_queries::differences(&changed, &expected, 1e-9).len(), 2);
    assert!(bench_queries::differences(&expected, &expected, 1e-9).is_empty());
}
