//! Property tests of sequencing against a simple reference model: no illegal move is
//! ever accepted and no legal one refused, a refused command changes nothing, replay
//! equals the live state, versions increase by exactly one, serde is lossless.

use chrono::{DateTime, Duration, Utc};
use journeys::{
    Contact, DomainError, EnrollmentStatus, InMemoryRepository, Journey, JourneyEngine, ManualClock,
    MembershipState, Move, SequencePolicy, Source, Stage, Transition, decide, replay,
};
use proptest::prelude::*;

/// The reference model: a journey is its policy and which stages are exits.
#[derive(Clone, Debug)]
struct ModelJourney {
    sequenced: bool,
    exits: Vec<bool>,
}

impl ModelJourney {
    fn next(&self, from: usize) -> Option<usize> {
        (from + 1..self.exits.len()).find(|&i| !self.exits[i])
    }

    /// Whether moving from `from` to `to` is legal, by the rules as written in DESIGN.md.
    fn allows(&self, from: Option<usize>, to: usize) -> bool {
        if from == Some(to) || to >= self.exits.len() {
            return false;
        }
        if !self.sequenced {
            return true;
        }
        match from {
            None => to == 0,
            Some(i) if self.exits[i] || self.next(i).is_none() => false,
            Some(i) => self.exits[to] || self.next(i) == Some(to),
        }
    }

    fn journey(&self) -> Journey {
        let stages = self.exits.iter().enumerate().map(|(i, &exit)| {
            let stage = Stage::new(&format!("s{i}"), &format!("Stage {i}")).unwrap();
            if exit { stage.exit() } else { stage }
        });
        let policy = if self.sequenced { SequencePolicy::RequiresSequence } else { SequencePolicy::AnyOrder };
        Journey::new("j", "J", policy, stages).unwrap()
    }
}

fn model_journey() -> impl Strategy<Value = ModelJourney> {
    (any::<bool>(), prop::collection::vec(prop::bool::weighted(0.25), 1..7))
        .prop_map(|(sequenced, exits)| ModelJourney { sequenced, exits })
}

/// A command: a target stage index (possibly past the last stage: unknown) and a time
/// step in minutes (negative: earlier than the last move).
fn commands() -> impl Strategy<Value = Vec<(usize, i64)>> {
    prop::collection::vec((0usize..8, -2i64..30), 0..30)
}

fn t0() -> DateTime<Utc> {
    "2026-01-01T00:00:00Z".parse().unwrap()
}

fn request(to: usize, at: DateTime<Utc>) -> Move {
    Move::to_stage(
        "c1".parse().unwrap(),
        format!("s{to}").parse().unwrap(),
        at,
        Source::manual("p".parse().unwrap()),
    )
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(10_000))]

    #[test]
    fn decide_agrees_with_the_reference_model(model in model_journey(), cmds in commands()) {
        let journey = model.journey();
        let contact = "c1".parse().unwrap();
        let mut history: Vec<Transition> = Vec::new();
        let mut model_stage: Option<usize> = None;
        let mut clock = t0();
        for (to, step) in cmds {
            let at = clock + Duration::minutes(step);
            let state = history.last().map(MembershipState::after);
            let decided = decide(&journey, state.as_ref(), &request(to, at));
            let time_ok = step >= 0 || history.is_empty();
            let legal = model.allows(model_stage, to) && time_ok;
            prop_assert_eq!(decided.is_ok(), legal, "{:?} -> s{} at {:+}m: {:?}", model_stage, to, step, decided);
            match decided {
                Ok(t) => {
                    prop_assert_eq!(t.version, history.len() as u64 + 1, "versions step by one");
                    prop_assert_eq!(t.from.as_ref().map(|k| k.to_string()), model_stage.map(|i| format!("s{i}")));
                    model_stage = Some(to);
                    clock = at;
                    history.push(t);
                }
                Err(e) => {
                    // The refusal is coded and names the stage asked for.
                    prop_assert!(!e.code().is_empty());
                    if to < model.exits.len() && !matches!(e, DomainError::EarlierThanLastMove { .. }) {
                        prop_assert!(e.to_string().contains(&format!("s{to}")), "{}", e);
                    }
                }
            }
            // Replay of the stored history equals the live state.
            let replayed = replay(&journey, &contact, &history).map_err(|e| TestCaseError::fail(e.to_string()))?;
            prop_assert_eq!(replayed, history.last().map(MembershipState::after));
        }
        // Serde round trips are lossless.
        let json = serde_json::to_string(&history).unwrap();
        prop_assert_eq!(serde_json::from_str::<Vec<Transition>>(&json).unwrap(), history);
        let json = serde_json::to_string(&journey).unwrap();
        prop_assert_eq!(serde_json::from_str::<Journey>(&json).unwrap(), journey);
    }
}

/// A command for the engine: move contact `contact` to stage `to`, or change its
/// enrollment status.
#[derive(Clone, Debug)]
enum Command {
    MoveTo { contact: usize, to: usize },
    SetStatus { contact: usize, status: usize },
}

fn engine_commands() -> impl Strategy<Value = Vec<Command>> {
    prop::collection::vec(
        prop_oneof![
            4 => (0usize..3, 0usize..8).prop_map(|(contact, to)| Command::MoveTo { contact, to }),
            1 => (0usize..3, 0usize..6).prop_map(|(contact, status)| Command::SetStatus { contact, status }),
        ],
        0..25,
    )
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(500))]

    #[test]
    fn the_engine_keeps_the_reference_model_and_a_refusal_changes_nothing(
        model in model_journey(),
        cmds in engine_commands(),
    ) {
        let runtime = tokio::runtime::Builder::new_current_thread().build().unwrap();
        runtime.block_on(async {
            let engine = JourneyEngine::with_clock(InMemoryRepository::new(), ManualClock::new(t0()));
            let journey = engine.define_journey(model.journey()).await.unwrap();
            let ids: Vec<journeys::ContactId> = (0..3).map(|i| format!("c{i}").parse().unwrap()).collect();
            for id in &ids {
                engine.add_contact(Contact::new(id.clone())).await.unwrap();
            }
            let mut stages: [Option<usize>; 3] = [None; 3];
            let mut statuses = [EnrollmentStatus::Prospect; 3];
            let system = Journey::advocate_enrollment().id().clone();
            for cmd in cmds {
                engine.clock().advance(Duration::minutes(1));
                let before = engine.repository().fork();
                let accepted = match cmd {
                    Command::MoveTo { contact, to } => {
                        let outcome = engine
                            .move_contact(&ids[contact], journey.id(), &format!("s{to}").parse().unwrap(),
                                Source::manual("p".parse().unwrap()))
                            .await;
                        prop_assert_eq!(outcome.is_ok(), model.allows(stages[contact], to), "{:?}", outcome);
                        if outcome.is_ok() { stages[contact] = Some(to); }
                        outcome.is_ok()
                    }
                    Command::SetStatus { contact, status } => {
                        let status = EnrollmentStatus::ALL[status];
                        let outcome = engine.set_enrollment_status(&ids[contact], status).await;
                        prop_assert_eq!(outcome.is_ok(), statuses[contact] != status, "{:?}", outcome);
                        if outcome.is_ok() { statuses[contact] = status; }
                        outcome.is_ok()
                    }
                };
                for (i, id) in ids.iter().enumerate() {
                    let now = engine.membership(id, journey.id()).await.unwrap();
                    prop_assert_eq!(now.map(|s| s.stage.to_string()), stages[i].map(|s| format!("s{s}")));
                    prop_assert_eq!(engine.contact(id).await.unwrap().enrollment, statuses[i]);
                    let mirrored = engine.membership(id, &system).await.unwrap().unwrap();
                    prop_assert_eq!(mirrored.stage.as_str(), statuses[i].as_str());
                }
                if !accepted {
                    // Nothing was written: every history is as before the command.
                    let forked = JourneyEngine::new(before);
                    for id in &ids {
                        for j in [journey.id(), &system] {
                            prop_assert_eq!(
                                forked.history(id, j).await.unwrap(),
                                engine.history(id, j).await.unwrap()
                            );
                        }
                    }
                }
            }
            Ok(())
        })?;
    }
}
