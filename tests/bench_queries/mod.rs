//! The six benchmark dashboard queries (Q1–Q6 of the benchmark README) over the
//! crate's analytics, in the reference answers' JSON shape. Shared by the reference
//! test, `examples/dashboard.rs` and `benches/analytics.rs`, so the answers checked
//! are the answers printed and timed.
#![allow(dead_code, reason = "each user takes a different part")]
#![allow(clippy::expect_used, reason = "fixed definitions known to be valid")]

use chrono::{FixedOffset, TimeDelta, Utc};
use journeys::analytics::{
    Buckets, FunnelSpec, Granularity, JourneyLog, Scope, StallThresholds, Step, TransitionLog,
};
use journeys::{Journey, SequencePolicy, Stage, StageOutcome};
use serde_json::{Value, json};

/// The benchmark's referral journey: skips and backward moves occur, so any order.
pub(crate) fn referral() -> Journey {
    Journey::new(
        "referral",
        "Referral",
        SequencePolicy::AnyOrder,
        [
            Stage::new("lead", "Lead").expect("stage"),
            Stage::new("demo_complete", "Demo Complete").expect("stage"),
            Stage::new("trial", "Trial").expect("stage"),
            Stage::new("conversion", "Conversion").expect("stage").with_outcome(StageOutcome::Converted),
            Stage::new("closed_lost", "Closed/Lost").expect("stage").exit().with_outcome(StageOutcome::Lost),
        ],
    )
    .expect("journey")
}

/// The benchmark's onboarding journey.
pub(crate) fn onboarding() -> Journey {
    Journey::new(
        "onboarding",
        "Onboarding",
        SequencePolicy::RequiresSequence,
        [
            Stage::new("enrolled", "Enrolled").expect("stage"),
            Stage::new("first_referral_sent", "First Referral Sent").expect("stage"),
            Stage::new("first_order_received", "First Order Received").expect("stage"),
        ],
    )
    .expect("journey")
}

/// Reads a benchmark CSV file.
pub(crate) fn load(path: &str) -> TransitionLog {
    let file = std::fs::File::open(path).unwrap_or_else(|e| panic!("open {path}: {e}"));
    let size = file.metadata().map(|m| m.len()).unwrap_or(0);
    TransitionLog::read_csv(
        std::io::BufReader::with_capacity(1 << 20, file),
        [referral(), onboarding()],
        size,
    )
    .unwrap_or_else(|e| panic!("load {path}: {e}"))
}

/// The referral part of a log.
pub(crate) fn referral_log(log: &TransitionLog) -> &JourneyLog {
    log.journey("referral").expect("the referral journey")
}

/// The query names, in order.
pub(crate) const NAMES: [&str; 6] = [
    "Q1_current_stage",
    "Q2_funnel_reach",
    "Q3_window_funnel",
    "Q4_population_daily",
    "Q5_time_in_stage",
    "Q6_stalled",
];

/// Runs query `index` (0 for Q1) and gives its rows.
pub(crate) fn run(log: &TransitionLog, index: usize) -> Value {
    let r = referral_log(log);
    match index {
        0 => {
            let counts = r.current_stage_counts(Scope::all());
            counts.stages.iter().zip(&counts.contacts).map(|(s, n)| json!([s, n])).collect()
        }
        1 => r
            .reached(Scope::all())
            .rows()
            .into_iter()
            .map(|row| json!([row.stage, row.contacts, row.pct_from_prev, row.pct_from_first]))
            .collect(),
        2 => {
            let journey = r.journey();
            let steps = ["lead", "demo_complete", "trial", "conversion"]
                .map(|k| Step::enter(journey, k).expect("step"));
            let spec = FunnelSpec::new(steps, TimeDelta::days(30)).expect("funnel");
            let funnel = r.window_funnel(&spec, Scope::all());
            (1..=funnel.steps.len())
                .map(|k| json!([k, funnel.steps[k - 1], funnel.at_level(k), funnel.reached(k)]))
                .collect()
        }
        3 => {
            let start = "2026-01-01T00:00:00Z".parse().expect("instant");
            let utc = FixedOffset::east_opt(0).expect("offset");
            let days = Buckets::new(Granularity::Day, start, 365, utc).expect("buckets");
            let population = r.population(&days, None);
            let mut rows = Vec::with_capacity(days.len() * population.stages.len());
            for b in 0..days.len() {
                let day = days.start(b).format("%Y-%m-%d").to_string();
                for (s, stage) in population.stages.iter().enumerate() {
                    rows.push(json!([day, stage, population.get(b, s)]));
                }
            }
            Value::Array(rows)
        }
        4 => {
            let stays = r.time_in_stage_summary(Scope::all());
            stays
                .stages
                .iter()
                .zip(&stays.completed)
                .filter_map(|(stage, s)| s.map(|s| json!([stage, s.count, s.median, s.p90])))
                .collect()
        }
        5 => {
            let as_of = log.last_at().unwrap_or_else(Utc::now);
            let stalled = r
                .stalled_counts(&StallThresholds::after(TimeDelta::days(14)), as_of, None)
                .expect("thresholds");
            let when = as_of.format("%Y-%m-%dT%H:%M:%SZ").to_string();
            stalled
                .stages
                .iter()
                .zip(&stalled.contacts)
                .take(3)
                .map(|(stage, n)| json!([stage, n, when]))
                .collect()
        }
        _ => Value::Null,
    }
}

/// All six, in the reference files' shape: `{"queries": {"Q1_current_stage": …, …}}`.
pub(crate) fn run_all(log: &TransitionLog, mut timed: impl FnMut(&str, std::time::Duration)) -> Value {
    let mut queries = serde_json::Map::new();
    for (i, name) in NAMES.iter().enumerate() {
        let t0 = std::time::Instant::now();
        let rows = run(log, i);
        timed(name, t0.elapsed());
        queries.insert((*name).to_owned(), rows);
    }
    json!({ "queries": queries })
}

/// Where `actual` differs from `expected`: numbers equal within relative `tolerance`
/// (integers exactly), everything else exactly. Empty when equal.
pub(crate) fn differences(actual: &Value, expected: &Value, tolerance: f64) -> Vec<String> {
    let mut out = Vec::new();
    diff("", actual, expected, tolerance, &mut out);
    out
}

fn diff(path: &str, a: &Value, e: &Value, tol: f64, out: &mut Vec<String>) {
    match (a, e) {
        (Value::Number(x), Value::Number(y)) => {
            let equal = match (x.as_i64(), y.as_i64()) {
                (Some(i), Some(j)) => i == j,
                _ => {
                    let (x, y) = (x.as_f64().unwrap_or(f64::NAN), y.as_f64().unwrap_or(f64::NAN));
                    (x - y).abs() <= tol * x.abs().max(y.abs())
                }
            };
            if !equal {
                out.push(format!("{path}: {a} != {e}"));
            }
        }
        (Value::Array(x), Value::Array(y)) => {
            if x.len() != y.len() {
                out.push(format!("{path}: {} rows != {}", x.len(), y.len()));
            }
            for (i, (xa, ya)) in x.iter().zip(y).enumerate() {
                diff(&format!("{path}[{i}]"), xa, ya, tol, out);
            }
        }
        (Value::Object(x), Value::Object(y)) => {
            for (k, ya) in y {
                match x.get(k) {
                    Some(xa) => diff(&format!("{path}.{k}"), xa, ya, tol, out),
                    None => out.push(format!("{path}.{k}: missing")),
                }
            }
        }
        _ if a == e => {}
        _ => out.push(format!("{path}: {a} != {e}")),
    }
}
