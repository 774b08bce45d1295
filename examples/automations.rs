//! The referral pipeline driven by events: the journey and the rules loaded from JSON
//! (`examples/data/referral_journey.json`, `referral_automations.json`) move contacts through the referral
//! journey as events arrive (`examples/data/referral_events.json`) — a referral makes a
//! lead, a booked demo completes the demo and starts the trial, an order over 100
//! converts, a lost deal closes — and each event's explanation is printed: which
//! rules' triggers matched, every condition with the value it read, the outcomes with
//! their results (a move the journey refuses is skipped with its code), the cascade
//! and the external effects for the host.
//!
//! `cargo run --example automations [-- RULES.json EVENTS.json] [--json]`

use std::sync::Arc;

use journeys::automation::{Event, Explanation, OutcomeResult, Rule};
use journeys::{Contact, InMemoryRepository, Journey, JourneyEngine, ManualClock};

const JOURNEY: &str = include_str!("data/referral_journey.json");
const RULES: &str = include_str!("data/referral_automations.json");
const EVENTS: &str = include_str!("data/referral_events.json");

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let json = args.iter().any(|a| a == "--json");
    let files: Vec<&String> = args.iter().filter(|a| !a.starts_with("--")).collect();
    let (rules, events) = match files[..] {
        [rules, events] => (std::fs::read_to_string(rules)?, std::fs::read_to_string(events)?),
        [] => (RULES.to_owned(), EVENTS.to_owned()),
        _ => return Err("usage: automations [RULES.json EVENTS.json] [--json]".into()),
    };
    let rules: Vec<Rule> = serde_json::from_str(&rules)?;
    let events: Vec<Event> = serde_json::from_str(&events)?;

    let clock = Arc::new(ManualClock::new("2026-03-01T08:00:00Z".parse()?));
    let engine = JourneyEngine::with_clock(InMemoryRepository::new(), Arc::clone(&clock));
    engine.define_journey(serde_json::from_str::<Journey>(JOURNEY)?).await?;
    for contact in ["ada", "bob", "grace"] {
        engine.add_contact(Contact::new(contact.parse()?)).await?;
    }
    let automations = engine.set_automations(rules).await?;
    if !json {
        println!("{} rules loaded, in evaluation order:", automations.rules().len());
        for rule in automations.rules() {
            println!("  {:<28} priority {:>2}  {}", rule.id.as_str(), rule.priority, rule.name);
        }
    }

    for event in &events {
        clock.set(event.occurred_at);
        let processed = engine.process_event(event).await?;
        if json {
            println!("{}", serde_json::to_string(&processed)?);
            continue;
        }
        println!("\n== {} {} for {} at {}", event.id, event.event_type(), event.contact, event.occurred_at);
        match &processed.explanation {
            None => println!("   already processed for this contact: nothing new"),
            Some(explanation) => print_explanation(explanation),
        }
    }

    if !json {
        println!("\nWhere everyone stands:");
        for contact in ["ada", "bob"] {
            let state = engine.membership(&contact.parse()?, &"referral".parse()?).await?;
            let status = engine.contact(&contact.parse()?).await?.enrollment;
            println!(
                "  {contact:<5} referral: {:<14} enrollment: {status}",
                state.map_or("-".to_owned(), |s| s.stage.to_string())
            );
        }
        println!("\nRule counters (evaluated / matched / applied / skipped / failed):");
        for (rule, c) in engine.rule_counters() {
            println!(
                "  {:<28} {:>2} / {:>2} / {:>2} / {:>2} / {:>2}",
                rule.as_str(),
                c.evaluated,
                c.matched,
                c.applied,
                c.skipped,
                c.failed
            );
        }
    }
    Ok(())
}

fn print_explanation(explanation: &Explanation) {
    for rule in explanation.rules.iter().filter(|r| r.trigger_matched) {
        println!("   rule {} {}", rule.rule, if rule.fired { "fired" } else { "did not fire" });
        let parts = [("scope", &rule.scope), ("conditions", &rule.conditions)];
        for (name, part) in parts {
            let Some(part) = part else { continue };
            println!("     {name}: {:?}", part.verdict);
            for c in &part.comparisons {
                let read = c.read.as_ref().map_or("(missing)".to_owned(), ToString::to_string);
                let value = c.value.as_ref().map_or(String::new(), ToString::to_string);
                println!("       {} {} {value}: read {read} → {:?}", c.field, c.op.as_str(), c.verdict);
            }
        }
    }
    let evaluation = &explanation.evaluation;
    let steps = std::iter::once((0, None, &evaluation.fired))
        .chain(evaluation.cascade.iter().map(|s| (s.depth, Some(&s.event), &s.fired)));
    for (depth, made, fired) in steps {
        if let Some(event) = made {
            let to = event.field("to").map_or(String::new(), |v| v.to_value().to_string());
            println!("   cascade depth {depth}: {} to {to}", event.event_type());
        }
        for firing in fired {
            for report in &firing.outcomes {
                let result = match &report.result {
                    OutcomeResult::Moved { transition } => format!(
                        "moved {} {} → {}",
                        transition.journey,
                        transition.from.as_ref().map_or("(entry)", |s| s.as_str()),
                        transition.to
                    ),
                    OutcomeResult::AttributeSet { attribute, to, .. } => format!("set {attribute} = {to}"),
                    OutcomeResult::Effect { effect } => {
                        format!("effect {} {} (dedupe {})", effect.kind, effect.key, effect.dedupe_key)
                    }
                    OutcomeResult::Skipped { error } => format!("SKIPPED {}: {error}", error.code()),
                    other => format!("{other:?}"),
                };
                println!("   {} #{} {}: {result}", firing.rule, report.index, report.action);
            }
        }
    }
    for stop in &evaluation.stops {
        println!("   cascade stopped: {stop:?}");
    }
}
