//! Events per second through the pure evaluator: 1,000 rules over 20 trigger kinds
//! (50 per kind, three conditions each, over event properties and contact
//! attributes), 1 M events against 1,000 contact states, single thread. Target:
//! ≥ 1 M events/s.
//!
//! `cargo bench --bench automation`
//!
//! With `AUTOMATION_BENCH_EVENTS=N` set, the bench evaluates N events once and exits
//! instead, printing how many rules fired: run it under
//! `valgrind --tool=callgrind` at two sizes and divide the difference in
//! instructions by the difference in events for a load-independent figure.

#![allow(missing_docs, reason = "criterion's macros generate undocumented items")]

use std::hint::black_box;

use chrono::{DateTime, Duration, Utc};
use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use journeys::automation::{
    Automations, Condition, ContactState, Event, EventKind, Op, Outcome, Rule, Trigger,
};
use journeys::{Contact, EnrollmentStatus, Journey, MembershipState, SequencePolicy, Stage, Value};

const RULES_PER_KIND: usize = 50;
const CUSTOM_KINDS: usize = 12;
const DISTINCT_EVENTS: usize = 10_000;
const CONTACTS: usize = 1_000;
const EVENTS: usize = 1_000_000;
const STAGES: [&str; 4] = ["lead", "demo_complete", "trial", "conversion"];
const PLANS: [&str; 4] = ["free", "trial", "silver", "gold"];

fn id<T: std::str::FromStr>(text: &str) -> T
where
    T::Err: std::fmt::Debug,
{
    text.parse().expect("a valid id")
}

fn num(n: u64) -> Value {
    Value::number(n as f64).expect("finite")
}

/// splitmix64: deterministic data for a seed.
struct Rng(u64);

impl Rng {
    fn next(&mut self, below: u64) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        (z ^ (z >> 31)) % below
    }
}

fn t0() -> DateTime<Utc> {
    DateTime::UNIX_EPOCH + Duration::days(20_000)
}

fn referral() -> Journey {
    let stages = STAGES.map(|k| Stage::new(k, k).expect("valid stage"));
    Journey::new("referral", "Referral", SequencePolicy::RequiresSequence, stages).expect("valid journey")
}

/// The 20 trigger kinds: the 8 built-in kinds and 12 custom events.
fn trigger(kind: usize, rule: usize) -> Trigger {
    use journeys::automation::EventType as T;
    let on = Trigger::on;
    match kind {
        0 => on(T::ContactCreated),
        1 => on(T::ContactFieldChanged).with(id("field"), Value::from(PLANS[rule % 4])),
        2 => on(T::AddedToSegment).with(id("segment"), Value::from(format!("s{}", rule % 5))),
        3 => on(T::EnrollmentStatusChanged).with(id("to"), Value::from("enrolled")),
        4 => on(T::OrderCreated).with(id("currency"), Value::from(if rule % 2 == 0 { "EUR" } else { "USD" })),
        5 => on(T::DealStageChanged).with(id("pipeline"), Value::from("sales")),
        6 => on(T::JourneyStageChanged)
            .with(id("journey"), Value::from("referral"))
            .with(id("to"), Value::from(STAGES[rule % 4])),
        7 => on(T::ReferralAttributed),
        custom => on(T::Custom).with(id("name"), Value::from(format!("custom_{custom}"))),
    }
}

/// Three conditions: an event property over a threshold, the contact's plan, and the
/// contact's score; about one rule in 40 of a kind fires on an event.
fn rule(kind: usize, r: usize) -> Rule {
    let conditions = Condition::All {
        all: vec![
            Condition::compare(id(&format!("event.p{}", r % 3)), Op::Gt, num(30 + (r % 10) as u64 * 7)),
            Condition::compare(id("contact.plan"), Op::Eq, Value::from(PLANS[r % 4])),
            Condition::compare(id("contact.score"), Op::Ge, num(40 + (r % 7) as u64 * 10)),
        ],
    };
    let outcome = if r % 2 == 0 {
        Outcome::SetAttribute { attribute: id("tier"), value: Value::from(format!("r{r}")) }
    } else {
        Outcome::SendEmail { template: id(&format!("t{r}")), data: Default::default() }
    };
    Rule {
        id: id(&format!("k{kind:02}-r{r:02}")),
        name: id(&format!("Kind {kind} rule {r}")),
        enabled: true,
        priority: (r % 3) as i32,
        scope: Default::default(),
        trigger: trigger(kind, r),
        conditions: Some(conditions),
        outcomes: vec![outcome],
    }
}

fn automations() -> Automations {
    let rules = (0..8 + CUSTOM_KINDS).flat_map(|kind| (0..RULES_PER_KIND).map(move |r| rule(kind, r)));
    Automations::new(rules, [referral()]).expect("valid rules")
}

fn states(rng: &mut Rng) -> Vec<ContactState> {
    (0..CONTACTS)
        .map(|i| {
            let contact = Contact::new(id(&format!("c{i:05}")))
                .with_status(EnrollmentStatus::Enrolled)
                .with_attribute(id("plan"), Value::from(PLANS[rng.next(4) as usize]))
                .with_attribute(id("score"), num(rng.next(100)))
                .with_attribute(id("country"), Value::from("DE"));
            ContactState::new(contact).with_membership(MembershipState {
                contact: id(&format!("c{i:05}")),
                journey: id("referral"),
                stage: id(STAGES[rng.next(4) as usize]),
                version: 1,
                since: t0(),
            })
        })
        .collect()
}

fn event_kind(kind: usize, rng: &mut Rng) -> EventKind {
    match kind {
        0 => EventKind::ContactCreated,
        1 => EventKind::ContactFieldChanged {
            field: id(PLANS[rng.next(4) as usize]),
            from: None,
            to: Some(Value::from("x")),
        },
        2 => EventKind::AddedToSegment { segment: id(&format!("s{}", rng.next(5))) },
        3 => EventKind::EnrollmentStatusChanged { from: None, to: EnrollmentStatus::Enrolled },
        4 => EventKind::OrderCreated {
            order: id(&format!("o{}", rng.next(1_000_000))),
            amount: rng.next(500) as f64,
            currency: id(if rng.next(2) == 0 { "EUR" } else { "USD" }),
            campaign: None,
        },
        5 => EventKind::DealStageChanged { pipeline: id("sales"), from: None, to: id("won") },
        6 => EventKind::JourneyStageChanged {
            journey: id("referral"),
            from: None,
            to: id(STAGES[rng.next(4) as usize]),
        },
        7 => EventKind::ReferralAttributed { advocate: id("bob"), campaign: id("spring") },
        custom => EventKind::Custom { name: id(&format!("custom_{custom}")) },
    }
}

/// Events of every kind in turn, each with three numeric properties, for contact
/// `i % CONTACTS`.
fn events(rng: &mut Rng) -> Vec<(Event, usize)> {
    (0..DISTINCT_EVENTS)
        .map(|i| {
            let contact = i % CONTACTS;
            let mut event = Event::new(
                id(&format!("e{i}")),
                id(&format!("c{contact:05}")),
                t0(),
                event_kind(i % 20, rng),
            );
            for p in 0..3 {
                event = event.with_property(id(&format!("p{p}")), num(rng.next(100)));
            }
            (event, contact)
        })
        .collect()
}

/// Evaluates `count` events; returns how many rules fired.
fn run(automations: &Automations, events: &[(Event, usize)], states: &[ContactState], count: usize) -> usize {
    let now = t0();
    events
        .iter()
        .cycle()
        .take(count)
        .map(|(event, contact)| automations.evaluate(black_box(event), &states[*contact], now).fired.len())
        .sum()
}

fn evaluator(c: &mut Criterion) {
    let mut rng = Rng(2026);
    let automations = automations();
    let states = states(&mut rng);
    let events = events(&mut rng);
    if let Some(count) = std::env::var("AUTOMATION_BENCH_EVENTS").ok().and_then(|n| n.parse().ok()) {
        let fired = run(&automations, &events, &states, count);
        println!("{count} events, {fired} rules fired");
        return;
    }
    let fired = run(&automations, &events, &states, DISTINCT_EVENTS);
    println!("{:.2} rules fire per event", fired as f64 / DISTINCT_EVENTS as f64);
    let mut group = c.benchmark_group("automation");
    group.sample_size(10);
    group.throughput(Throughput::Elements(EVENTS as u64));
    group.bench_function("evaluate_1000_rules_1m_events", |b| {
        b.iter(|| black_box(run(&automations, &events, &states, EVENTS)));
    });
    group.finish();
}

criterion_group!(benches, evaluator);
criterion_main!(benches);
