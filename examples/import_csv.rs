//! Imports a CSV file of moves into an `InMemoryRepository` holding the benchmark's
//! journeys, and prints the report as JSON; the import time goes to stderr.
//!
//! ```text
//! cargo run --release --example import_csv -- FILE [--atomic|--best-effort] [--dry-run]
//! ```
//!
//! Journeys: `referral` (lead → demo_complete → trial → conversion, closed_lost; any
//! order, as the benchmark data has skips and backward moves) and `onboarding`
//! (enrolled → first_referral_sent → first_order_received, sequenced). Unknown
//! contacts are created.

use std::time::Instant;

use journeys::import::{ImportOptions, ImportReport, Mode, UnknownContacts};
use journeys::{InMemoryRepository, Journey, JourneyEngine, SequencePolicy, Stage};

fn usage() -> ! {
    eprintln!("usage: import_csv FILE [--atomic|--best-effort] [--dry-run]");
    std::process::exit(2)
}

fn journeys() -> Result<[Journey; 2], journeys::DomainError> {
    Ok([
        Journey::new(
            "referral",
            "Referral",
            SequencePolicy::AnyOrder,
            [
                Stage::new("lead", "Lead")?,
                Stage::new("demo_complete", "Demo Complete")?,
                Stage::new("trial", "Trial")?,
                Stage::new("conversion", "Conversion")?,
                Stage::new("closed_lost", "Closed/Lost")?.exit(),
            ],
        )?,
        Journey::new(
            "onboarding",
            "Onboarding",
            SequencePolicy::RequiresSequence,
            [
                Stage::new("enrolled", "Enrolled")?,
                Stage::new("first_referral_sent", "First referral sent")?,
                Stage::new("first_order_received", "First order received")?,
            ],
        )?,
    ])
}

/// The import alone, kept out of line so that a profiler can collect just it:
/// `valgrind --tool=callgrind --toggle-collect='import_csv::import' …`.
#[inline(never)]
fn import(
    runtime: &tokio::runtime::Runtime,
    engine: &JourneyEngine<InMemoryRepository>,
    file: impl std::io::Read,
    options: &ImportOptions,
) -> Result<ImportReport, journeys::Error> {
    runtime.block_on(engine.import_csv(file, options))
}

/// This thread's CPU time so far, where Linux reports it (`/proc/thread-self/schedstat`):
/// on a shared machine, the import's own time beside the wall time.
fn cpu_time() -> Option<std::time::Duration> {
    let text = std::fs::read_to_string("/proc/thread-self/schedstat").ok()?;
    text.split_whitespace().next()?.parse().ok().map(std::time::Duration::from_nanos)
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut path = None;
    let mut mode = Mode::BestEffort;
    let mut dry_run = false;
    for arg in std::env::args().skip(1) {
        match arg.as_str() {
            "--atomic" => mode = Mode::Atomic,
            "--best-effort" => mode = Mode::BestEffort,
            "--dry-run" => dry_run = true,
            flag if flag.starts_with("--") => usage(),
            file if path.is_none() => path = Some(file.to_owned()),
            _ => usage(),
        }
    }
    let Some(path) = path else { usage() };
    let batch =
        std::path::Path::new(&path).file_name().map_or(path.clone(), |n| n.to_string_lossy().into_owned());
    let options = ImportOptions::new(batch.parse()?)
        .mode(mode)
        .dry_run(dry_run)
        .unknown_contacts(UnknownContacts::Create);

    let runtime = tokio::runtime::Builder::new_current_thread().build()?;
    let engine = JourneyEngine::new(InMemoryRepository::new());
    runtime.block_on(async {
        for journey in journeys()? {
            engine.define_journey(journey).await?;
        }
        Ok::<_, Box<dyn std::error::Error>>(())
    })?;
    let file = std::io::BufReader::with_capacity(1 << 20, std::fs::File::open(&path)?);
    let (started, cpu) = (Instant::now(), cpu_time());
    let report = import(&runtime, &engine, file, &options)?;
    let elapsed = started.elapsed();
    let cpu = cpu_time().zip(cpu).map_or(f64::NAN, |(end, start)| (end - start).as_secs_f64());
    eprintln!(
        "imported {} rows in {:.3} s ({:.0} rows/s), on-CPU {cpu:.3} s",
        report.rows,
        elapsed.as_secs_f64(),
        report.rows as f64 / elapsed.as_secs_f64()
    );

    // Written by hand to keep the key order of the documented shape.
    let errors: Vec<String> = report
        .errors
        .iter()
        .map(|e| -> Result<String, serde_json::Error> {
            Ok(format!(
                r#"{{"line":{},"code":{},"message":{}}}"#,
                e.line,
                serde_json::to_string(e.error.code())?,
                serde_json::to_string(&e.error.to_string())?
            ))
        })
        .collect::<Result<_, serde_json::Error>>()?;
    let json = format!(
        r#"{{"rows":{},"applied":{},"refused":{},"errors":[{}]}}"#,
        report.rows,
        report.applied,
        report.refused,
        errors.join(",")
    );
    println!("{json}");
    Ok(())
}
