//! The journey dashboard: stage counts, funnels, populations over time, time in stage,
//! stalled contacts, flows and breakdowns, printed as tables.
//!
//! ```text
//! cargo run --release --example dashboard                        # generated data
//! cargo run --release --example dashboard -- --csv transitions.csv
//! cargo run --release --example dashboard -- --csv transitions.csv --json [--repeat 5] \
//!     [--check reference.json]
//! ```
//!
//! Without arguments it generates a deterministic data set in process (every move
//! decided by `decide`). `--csv PATH` reads the benchmark transitions CSV format;
//! `--json` prints the six benchmark queries in the reference answers' shape
//! (`{"queries": {"Q1_current_stage": …}}`). Load and query timings go to stderr;
//! `--repeat N` runs the queries N times and reports the best; `--check FILE` compares
//! the answers with a reference file (floats within 1e-9 relative) and fails on a
//! difference.

#[path = "../tests/bench_queries/mod.rs"]
mod bench_queries;

use std::time::{Duration, Instant};

use chrono::{DateTime, FixedOffset, TimeDelta, Utc};
use journeys::analytics::{
    Buckets, FunnelMode, FunnelSpec, Granularity, JourneyLog, Scope, Segments, StallThresholds, Step,
    TransitionLog, breakdown,
};
use journeys::{ChannelKey, Journey, MembershipState, Move, Source, TouchpointInfo, Transition, decide};

type Result<T> = std::result::Result<T, Box<dyn std::error::Error>>;

fn main() -> Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let flag = |name: &str| args.iter().any(|a| a == name);
    let value = |name: &str| args.iter().position(|a| a == name).and_then(|i| args.get(i + 1)).cloned();
    let repeat: usize = value("--repeat").map_or(Ok(1), |r| r.parse())?;

    let (t0, c0) = (Instant::now(), cpu_time());
    let log = match value("--csv") {
        Some(path) => bench_queries::load(&path),
        None => generated()?,
    };
    let load = t0.elapsed();
    let load_cpu = cpu_time().zip(c0).map_or(f64::NAN, |(c1, c0)| ms(c1 - c0));
    eprintln!(
        "load: {:.1} ms (cpu {load_cpu:.1} ms), {} transitions, {} contacts; {:.1} bytes per transition in \
         the journey columns, {:.1} with the contact ids",
        ms(load),
        log.len(),
        log.contacts().len(),
        log.journeys().iter().map(|j| j.heap_bytes()).sum::<usize>() as f64 / log.len().max(1) as f64,
        log.heap_bytes() as f64 / log.len().max(1) as f64
    );

    if flag("--json") {
        let mut runs: Vec<(Vec<Duration>, Duration)> = Vec::new();
        let mut answers = serde_json::Value::Null;
        for _ in 0..repeat.max(1) {
            let mut times = Vec::new();
            let c0 = cpu_time();
            answers = bench_queries::run_all(&log, |_, t| times.push(t));
            runs.push((times, cpu_time().zip(c0).map_or(Duration::ZERO, |(c1, c0)| c1 - c0)));
        }
        let median = |mut v: Vec<Duration>| {
            v.sort();
            v[v.len() / 2]
        };
        let (mut best_sum, mut median_sum) = (Duration::ZERO, Duration::ZERO);
        for (i, name) in bench_queries::NAMES.iter().enumerate() {
            let times: Vec<Duration> = runs.iter().map(|(t, _)| t[i]).collect();
            let (best, med) = (times.iter().copied().min().unwrap_or_default(), median(times));
            best_sum += best;
            median_sum += med;
            eprintln!("  {name:22} best {:8.2} ms  median {:8.2} ms  (of {})", ms(best), ms(med), runs.len());
        }
        let wall: Duration = runs.iter().map(|(t, _)| t.iter().sum::<Duration>()).sum();
        let cpu: Duration = runs.iter().map(|(_, c)| *c).sum();
        eprintln!(
            "  Q1-Q6 sum              best {:8.2} ms  median {:8.2} ms  cpu/wall {:.2}",
            ms(best_sum),
            ms(median_sum),
            cpu.as_secs_f64() / wall.as_secs_f64()
        );
        if let Some(reference) = value("--check") {
            let expected: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&reference)?)?;
            let diffs = bench_queries::differences(&answers["queries"], &expected["queries"], 1e-9);
            if !diffs.is_empty() {
                return Err(format!(
                    "{} answers differ from {reference}: {:?}",
                    diffs.len(),
                    &diffs[..diffs.len().min(5)]
                )
                .into());
            }
            eprintln!("answers equal {reference} (floats within 1e-9 relative)");
        }
        println!("{}", serde_json::to_string(&answers)?);
        return Ok(());
    }
    let t0 = Instant::now();
    let referral = log.journey("referral").ok_or("no referral journey in the data")?;
    print_dashboard(&log, referral)?;
    eprintln!("dashboard: {:.1} ms", ms(t0.elapsed()));
    Ok(())
}

/// This thread's CPU time so far, where Linux reports it (`/proc/thread-self/schedstat`),
/// to print the CPU/wall ratio beside each timing on a shared machine.
fn cpu_time() -> Option<Duration> {
    let text = std::fs::read_to_string("/proc/thread-self/schedstat").ok()?;
    text.split_whitespace().next()?.parse().ok().map(Duration::from_nanos)
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}

/// The sequenced referral journey the examples share, as a host stores it.
fn referral() -> Result<Journey> {
    Ok(serde_json::from_str(include_str!("data/referral_journey.json"))?)
}

/// A small deterministic pseudo-random generator (xorshift).
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }

    fn chance(&mut self, percent: u64) -> bool {
        self.below(100) < percent
    }
}

/// 3,000 contacts entering over 2026 and moving on with realistic odds and delays;
/// every move decided by `decide`.
fn generated() -> Result<TransitionLog> {
    let journey = referral()?;
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    let start: DateTime<Utc> = "2026-01-01T00:00:00Z".parse()?;
    let end: DateTime<Utc> = "2026-12-31T23:59:59Z".parse()?;
    let channels: Vec<ChannelKey> =
        ["email", "website", "phone"].iter().map(|c| c.parse()).collect::<std::result::Result<_, _>>()?;
    let sources = [Source::manual("sales".parse()?), Source::automation("demo-booked".parse()?)];
    let mut transitions: Vec<Transition> = Vec::new();
    for n in 0..3_000u64 {
        let contact: journeys::ContactId = format!("c{n:05}").parse()?;
        let mut at = start + TimeDelta::seconds(rng.below(360 * 86_400) as i64);
        let mut state: Option<MembershipState> = None;
        let mut plan = vec!["lead"];
        for (next, odds) in [("demo_complete", 55), ("trial", 70), ("conversion", 40)] {
            if !rng.chance(odds) {
                if rng.chance(70) {
                    plan.push("closed_lost");
                }
                break;
            }
            plan.push(next);
        }
        for (i, stage) in plan.into_iter().enumerate() {
            if i > 0 {
                at += TimeDelta::seconds(3_600 + rng.below(25 * 86_400) as i64);
            }
            if at > end {
                break;
            }
            let mut request =
                Move::to_stage(contact.clone(), stage.parse()?, at, sources[rng.below(2) as usize].clone());
            request.touchpoint = Some(TouchpointInfo::on(channels[rng.below(3) as usize].clone()));
            let transition = decide(&journey, state.as_ref(), &request)?;
            state = Some(MembershipState::after(&transition));
            transitions.push(transition);
        }
    }
    transitions.sort_by_key(|t| t.occurred_at);
    Ok(TransitionLog::from_transitions([journey], &transitions)?)
}

fn table(title: &str, header: &[&str], rows: Vec<Vec<String>>) {
    let mut width: Vec<usize> = header.iter().map(|h| h.len()).collect();
    for row in &rows {
        for (w, cell) in width.iter_mut().zip(row) {
            *w = (*w).max(cell.len());
        }
    }
    println!("\n{title}");
    let line = |cells: Vec<String>| {
        let padded: Vec<String> = cells.iter().zip(&width).map(|(c, w)| format!("{c:>w$}")).collect();
        println!("  {}", padded.join("  "));
    };
    line(header.iter().map(|h| h.to_string()).collect());
    line(width.iter().map(|w| "-".repeat(*w)).collect());
    for row in rows {
        line(row);
    }
}

fn pct(p: Option<f64>) -> String {
    p.map_or("-".into(), |p| format!("{p:.1}%"))
}

fn days(seconds: f64) -> String {
    format!("{:.1} d", seconds / 86_400.0)
}

fn print_dashboard(log: &TransitionLog, referral: &JourneyLog) -> Result<()> {
    let journey = referral.journey();
    let as_of = log.last_at().ok_or("no transitions")?;
    println!("journey {} as of {}", journey.id(), as_of.to_rfc3339());
    let stage = |i: usize| journey.stage_at(i).map_or(String::new(), |s| s.key().to_string());

    let counts = referral.current_stage_counts(Scope::all());
    let rows =
        counts.stages.iter().zip(&counts.contacts).map(|(s, n)| vec![s.to_string(), n.to_string()]).collect();
    table("Current stage", &["stage", "contacts"], rows);

    let rows = referral
        .reached(Scope::all())
        .rows()
        .into_iter()
        .map(|r| {
            vec![r.stage.to_string(), r.contacts.to_string(), pct(r.pct_from_prev), pct(r.pct_from_first)]
        })
        .collect();
    table(
        "Funnel reach (exit stages: no conversion from previous)",
        &["stage", "reached", "from prev", "from first"],
        rows,
    );

    let steps = ["lead", "demo_complete", "trial", "conversion"].map(|k| Step::enter(journey, k));
    let steps: Vec<Step> = steps.into_iter().collect::<std::result::Result<_, _>>()?;
    let default = FunnelSpec::new(steps.clone(), TimeDelta::days(30))?;
    let strict = default.clone().with_mode(FunnelMode { strict_order: true, ..FunnelMode::default() });
    let (a, b) =
        (referral.window_funnel(&default, Scope::all()), referral.window_funnel(&strict, Scope::all()));
    let rows = (1..=a.steps.len())
        .map(|k| {
            vec![
                k.to_string(),
                a.steps[k - 1].clone(),
                a.at_level(k).to_string(),
                a.reached(k).to_string(),
                b.reached(k).to_string(),
            ]
        })
        .collect();
    table(
        "Ordered funnel, 30-day window",
        &["level", "step", "max step", "reached", "reached (strict order)"],
        rows,
    );

    let months = Buckets::new(
        Granularity::Month,
        "2026-01-01T00:00:00Z".parse()?,
        12,
        FixedOffset::east_opt(0).ok_or("offset")?,
    )?;
    let population = referral.population(&months, None);
    let mut header = vec!["month end".to_string()];
    header.extend(population.stages.iter().map(|s| s.to_string()));
    let rows = (0..months.len())
        .map(|b| {
            let mut row = vec![months.end(b).format("%Y-%m-%d").to_string()];
            row.extend((0..population.stages.len()).map(|s| population.get(b, s).to_string()));
            row
        })
        .collect();
    table("Population at each month end", &header.iter().map(String::as_str).collect::<Vec<_>>(), rows);

    let stays = referral.time_in_stage(Scope::all());
    let rows = (0..stays.stages.len())
        .map(|i| {
            let s = stays.completed[i].summary();
            vec![
                stage(i),
                s.map_or("0".into(), |s| s.count.to_string()),
                s.map_or("-".into(), |s| days(s.mean)),
                s.map_or("-".into(), |s| days(s.median)),
                s.map_or("-".into(), |s| days(s.p90)),
                stays.open[i].len().to_string(),
            ]
        })
        .collect();
    table(
        "Time in stage (completed stays; open stays apart)",
        &["stage", "stays", "mean", "median", "p90", "open"],
        rows,
    );
    let convert = referral.time_to_convert("lead", "conversion", Scope::all())?;
    if let Some(s) = convert.converted.summary() {
        println!(
            "\n  lead -> conversion: {} converted, median {}, p90 {}; {} not (yet) converted",
            s.count,
            days(s.median),
            days(s.p90),
            convert.not_converted
        );
    }

    let thresholds = StallThresholds::after(TimeDelta::days(14)).stage("trial", TimeDelta::days(21));
    let stalled = referral.stalled_counts(&thresholds, as_of, None)?;
    let rows = stalled
        .stages
        .iter()
        .zip(&stalled.contacts)
        .map(|(s, n)| vec![s.to_string(), n.to_string()])
        .collect();
    table("Stalled (14 days, trial 21 days)", &["stage", "contacts"], rows);
    let list = referral.stalled_contacts(&thresholds, as_of, None)?;
    for c in list.iter().take(5) {
        println!("  {} in {} since {}", log.contacts().name(c.contact), stage(c.stage), c.since.to_rfc3339());
    }

    let flows = referral.flows(Scope::all());
    let rows = flows
        .cells()
        .into_iter()
        .map(|(from, to, n, kind)| {
            vec![from.map_or("(entry)".into(), stage), stage(to), n.to_string(), format!("{kind:?}")]
        })
        .collect();
    table("Flows", &["from", "to", "moves", "kind"], rows);

    let by_source = breakdown(&Segments::by_entry_source(referral), Scope::all(), |scope| {
        referral.current_stage_counts(scope)
    });
    let by_channel = breakdown(&Segments::by_entry_channel(log, referral), Scope::all(), |scope| {
        referral.current_stage_counts(scope)
    });
    let mut header = vec!["segment".to_string()];
    header.extend(counts.stages.iter().map(|s| s.to_string()));
    let mut rows = Vec::new();
    for (key, c) in by_source.iter().map(|(k, c)| (format!("source {}", k.as_str()), c)).chain(
        by_channel.iter().map(|(k, c)| (format!("channel {}", k.as_ref().map_or("-", |k| k.as_str())), c)),
    ) {
        let mut row = vec![key];
        row.extend(c.contacts.iter().map(u64::to_string));
        rows.push(row);
    }
    table(
        "Current stage by entry source and channel",
        &header.iter().map(String::as_str).collect::<Vec<_>>(),
        rows,
    );
    Ok(())
}
