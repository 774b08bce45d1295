//! Serde round trips of the model are lossless, and invalid input is an error.

use std::collections::BTreeMap;

use chrono::{DateTime, TimeZone, Utc};
use journeys::{
    AttributeKey, Contact, EnrollmentStatus, Journey, MembershipState, SequencePolicy, Source, Stage,
    StageOutcome, Value,
};
use proptest::prelude::*;

fn slug() -> impl Strategy<Value = String> {
    "[a-z][a-z0-9_-]{0,12}"
}

fn instant() -> impl Strategy<Value = DateTime<Utc>> {
    (0i64..4_000_000_000).prop_map(|s| Utc.timestamp_opt(s, 0).single().unwrap())
}

fn value() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        any::<bool>().prop_map(Value::Bool),
        (-1e12f64..1e12).prop_map(|n| Value::number(n).unwrap()),
        ".{0,16}".prop_map(Value::String),
        instant().prop_map(Value::timestamp),
    ];
    leaf.prop_recursive(2, 12, 4, |inner| prop::collection::vec(inner, 0..4).prop_map(Value::List))
}

fn contact() -> impl Strategy<Value = Contact> {
    (
        "[A-Za-z0-9@._-]{1,20}",
        0usize..EnrollmentStatus::ALL.len(),
        prop::collection::btree_map(slug(), value(), 0..5),
    )
        .prop_map(|(id, status, attributes)| Contact {
            id: id.parse().unwrap(),
            enrollment: EnrollmentStatus::ALL[status],
            attributes: attributes
                .into_iter()
                .map(|(k, v)| (k.parse::<AttributeKey>().unwrap(), v))
                .collect::<BTreeMap<_, _>>(),
        })
}

fn journey() -> impl Strategy<Value = Journey> {
    (any::<bool>(), prop::collection::btree_set(slug(), 1..6), any::<u8>()).prop_map(
        |(sequenced, keys, flags)| {
            let stages = keys.iter().enumerate().map(|(i, key)| {
                let mut stage = Stage::new(key, &format!("Stage {key}")).unwrap();
                if flags & (1 << (i % 8)) != 0 {
                    stage = stage.exit().with_outcome(StageOutcome::Lost);
                }
                stage
            });
            let policy = if sequenced { SequencePolicy::RequiresSequence } else { SequencePolicy::AnyOrder };
            Journey::new("j", "J", policy, stages).unwrap()
        },
    )
}

proptest! {
    #[test]
    fn contacts_round_trip(contact in contact()) {
        let json = serde_json::to_string(&contact).unwrap();
        prop_assert_eq!(serde_json::from_str::<Contact>(&json).unwrap(), contact);
    }

    #[test]
    fn journeys_round_trip(journey in journey()) {
        let json = serde_json::to_string(&journey).unwrap();
        prop_assert_eq!(serde_json::from_str::<Journey>(&json).unwrap(), journey);
    }

    #[test]
    fn membership_states_round_trip(stage in slug(), version in 1u64..1000, since in instant()) {
        let state = MembershipState {
            contact: "c1".parse().unwrap(),
            journey: "j".parse().unwrap(),
            stage: stage.parse().unwrap(),
            version,
            since,
        };
        let json = serde_json::to_string(&state).unwrap();
        prop_assert_eq!(serde_json::from_str::<MembershipState>(&json).unwrap(), state);
    }

    #[test]
    fn arbitrary_text_never_deserializes_into_an_invalid_id(text in ".{0,40}") {
        let json = serde_json::to_string(&text).unwrap();
        if let Ok(key) = serde_json::from_str::<journeys::StageKey>(&json) {
            prop_assert!(journeys::StageKey::new(key.as_str()).is_ok());
            prop_assert_eq!(key.as_str(), text.as_str());
        }
    }
}

#[test]
fn sources_use_a_tagged_json_shape() {
    let source = Source::Import {
        batch: "jan.csv".parse().unwrap(),
        line: 12,
        origin: Some(journeys::SourceKind::Manual),
    };
    let json = serde_json::to_value(&source).unwrap();
    assert_eq!(
        json,
        serde_json::json!({"kind": "import", "batch": "jan.csv", "line": 12, "origin": "manual"})
    );
    assert_eq!(serde_json::from_value::<Source>(json).unwrap(), source);
    assert!(serde_json::from_str::<Source>(r#"{"kind": "manual", "actor": ""}"#).is_err());
}

#[test]
fn unknown_enrollment_statuses_are_refused() {
    let json = r#"{"id": "c1", "enrollment": "vip"}"#;
    let err = serde_json::from_str::<Contact>(json).unwrap_err();
    assert!(err.to_string().contains("vip"), "{err}");
}
