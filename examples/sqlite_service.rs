//! A small service on SQLite: opens (or creates) the database file given as
//! argument, defines the referral journey, moves each contact one step along its
//! path, processes a few events through the automations of
//! `examples/data/referral_automations.json`, and prints where everyone stands. Run it
//! twice: the second run continues from the state the first one stored, and finds the
//! events already processed.
//!
//! ```text
//! cargo run --features sqlite --example sqlite_service -- /tmp/journeys.db
//! ```

use std::collections::BTreeMap;

use journeys::automation::{Event, Rule};
use journeys::{
    Contact, Error, Journey, JourneyEngine, LogPosition, Repository, RepositoryError, Source,
    SqliteRepository, Transition,
};

/// The sequenced referral journey the examples share, as a host stores it.
fn referral() -> Result<Journey, serde_json::Error> {
    serde_json::from_str(include_str!("data/referral_journey.json"))
}

const RULES: &str = include_str!("data/referral_automations.json");

/// Erin is referred, then books a demo.
const EVENTS: &str = r#"[
    {"id": "erin-1", "contact": "erin", "occurred_at": "2026-03-01T09:00:00Z",
     "kind": "referral_attributed", "advocate": "ada", "campaign": "spring"},
    {"id": "erin-2", "contact": "erin", "occurred_at": "2026-03-02T09:00:00Z",
     "kind": "custom", "name": "demo_booked"}
]"#;

/// Each contact's path through the referral journey; a run moves each one step.
const PATHS: [(&str, &[&str]); 4] = [
    ("ada", &["lead", "demo_complete", "trial", "conversion"]),
    ("bob", &["lead", "demo_complete", "closed_lost"]),
    ("carol", &["lead", "demo_complete", "trial"]),
    ("dan", &["lead", "closed_lost"]),
];

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let Some(path) = std::env::args_os().nth(1) else {
        eprintln!("usage: sqlite_service DATABASE_FILE");
        std::process::exit(2);
    };
    let engine = JourneyEngine::new(SqliteRepository::open(&path)?);
    let journey = engine.define_journey(referral()?).await?;
    let sales = Source::manual("sales-team".parse()?);

    for (name, path) in PATHS {
        let contact = name.parse()?;
        match engine.add_contact(Contact::new(name.parse()?)).await {
            Ok(_) => println!("added contact {name}"),
            Err(Error::Repository(RepositoryError::AlreadyExists { .. })) => {}
            Err(e) => return Err(e.into()),
        }
        let current = engine.membership(&contact, journey.id()).await?;
        let done = current.as_ref().map_or(0, |state| state.version as usize);
        match path.get(done) {
            Some(next) => {
                engine.move_contact(&contact, journey.id(), &next.parse()?, sales.clone()).await?;
                let from = current.map_or_else(|| "(entry)".to_owned(), |state| state.stage.to_string());
                println!("moved {name}: {from} -> {next}");
            }
            None => println!("{name} has finished the journey"),
        }
    }

    // A few events through the automations: erin is referred and books a demo. The
    // event ids make them idempotent, so a second run does nothing new.
    engine.set_automations(serde_json::from_str::<Vec<Rule>>(RULES)?).await?;
    match engine.add_contact(Contact::new("erin".parse()?)).await {
        Ok(_) | Err(Error::Repository(RepositoryError::AlreadyExists { .. })) => {}
        Err(e) => return Err(e.into()),
    }
    for event in serde_json::from_str::<Vec<Event>>(EVENTS)? {
        let processed = engine.process_event(&event).await?;
        let moves: Vec<String> = processed.transitions.iter().map(|t| t.to.to_string()).collect();
        let effects: Vec<String> =
            processed.effects.iter().map(|e| format!("{} {}", e.kind, e.key)).collect();
        match processed.duplicate {
            true => println!("event {}: already processed", event.id),
            false => println!("event {}: moved to {moves:?}, effects {effects:?}", event.id),
        }
    }

    // The dashboard's current-stage counts, from the journey's time-ordered log.
    let log = read_log(engine.repository(), &journey).await?;
    let mut current: BTreeMap<String, String> = BTreeMap::new();
    for transition in &log {
        current.insert(transition.contact.to_string(), transition.to.to_string());
    }
    println!("\n{} transitions stored; contacts per stage:", log.len());
    for stage in journey.stages() {
        let count = current.values().filter(|s| s.as_str() == stage.key().as_str()).count();
        println!("  {:<14} {count}", stage.name().as_str());
    }
    Ok(())
}

async fn read_log(repo: &SqliteRepository, journey: &Journey) -> Result<Vec<Transition>, RepositoryError> {
    let mut log: Vec<Transition> = Vec::new();
    loop {
        let after = log.last().map(LogPosition::of);
        let page = repo.journey_transitions(journey.id(), after.as_ref(), 500).await?;
        if page.is_empty() {
            return Ok(log);
        }
        log.extend(page);
    }
}
