//! Journey-map invariants against a reference model that recomputes each answer
//! touchpoint by touchpoint: per-stage counts add up to the total, gap counts equal
//! the channel changes, a breakdown by segment adds up to the whole; touchpoints and
//! referrals round-trip through serde.

mod support;

use std::collections::BTreeMap;

use chrono::{DateTime, Duration, Utc};
use journeys::analytics::{Scope, Segments, breakdown};
use journeys::journey_map::{GapOptions, GapReport, InteractionLog, JourneyMap, MapOptions};
use journeys::segment::Segment;
use journeys::{
    Contact, Journey, MembershipState, Move, Referral, Sentiment, Source, Touchpoint, Transition, decide,
};
use proptest::prelude::*;
use support::{free_journey, id};

const CHANNELS: [&str; 3] = ["web", "email", "phone"];

fn at(minutes: i64) -> DateTime<Utc> {
    "2026-03-02T09:00:00Z".parse::<DateTime<Utc>>().unwrap() + Duration::minutes(minutes)
}

/// One contact's generated history: moves (stage, minute) and touchpoints (channel,
/// device, minute), and a tier attribute.
#[derive(Clone, Debug)]
struct History {
    moves: Vec<(usize, i64)>,
    touchpoints: Vec<(usize, Option<usize>, i64)>,
    tier: Option<bool>,
}

fn history(stages: usize) -> impl Strategy<Value = History> {
    (
        prop::collection::vec((0..stages, 0i64..40), 0..5),
        prop::collection::vec((0..CHANNELS.len(), prop::option::of(0usize..2), 0i64..40), 0..8),
        prop::option::of(any::<bool>()),
    )
        .prop_map(|(mut moves, touchpoints, tier)| {
            moves.sort_by_key(|m| m.1);
            History { moves, touchpoints, tier }
        })
}

struct Data {
    journey: Journey,
    transitions: Vec<Transition>,
    touchpoints: Vec<Touchpoint>,
    contacts: Vec<Contact>,
}

fn data(stages: usize, histories: &[History]) -> Data {
    let journey = free_journey("free", &(0..stages).map(|s| format!("s{s}")).collect::<Vec<_>>());
    let (mut transitions, mut touchpoints, mut contacts) = (Vec::new(), Vec::new(), Vec::new());
    for (c, h) in histories.iter().enumerate() {
        let contact = id::<journeys::ContactId>(&format!("c{c}"));
        let mut state: Option<MembershipState> = None;
        for &(stage, minute) in &h.moves {
            let request = Move::to_stage(
                contact.clone(),
                id(&format!("s{stage}")),
                at(minute),
                Source::manual(id("p")),
            );
            // Moving to the current stage is refused; the generator just skips it.
            if let Ok(t) = decide(&journey, state.as_ref(), &request) {
                state = Some(MembershipState::after(&t));
                transitions.push(t);
            }
        }
        for (n, &(channel, device, minute)) in h.touchpoints.iter().enumerate() {
            let mut tp = Touchpoint::new(
                id(&format!("c{c}-{n}")),
                contact.clone(),
                at(minute),
                id(CHANNELS[channel]),
                id("visit"),
            );
            if let Some(d) = device {
                tp = tp.with_device(id(["mobile", "desktop"][d]));
            }
            touchpoints.push(tp);
        }
        let mut record = Contact::new(contact);
        if let Some(tier) = h.tier {
            record = record.with_attribute(id("tier"), if tier { "gold" } else { "silver" }.into());
        }
        contacts.push(record);
    }
    Data { journey, transitions, touchpoints, contacts }
}

/// The reference: each touchpoint with the stage its contact was in (the last move
/// strictly before it), in (contact, time, id) order.
fn staged(d: &Data) -> Vec<(String, Option<String>, &Touchpoint)> {
    let mut rows: Vec<_> = d
        .touchpoints
        .iter()
        .map(|tp| {
            let stage = d
                .transitions
                .iter()
                .filter(|t| t.contact == tp.contact && t.occurred_at < tp.occurred_at)
                .max_by_key(|t| t.version)
                .map(|t| t.to.to_string());
            (tp.contact.to_string(), stage, tp)
        })
        .collect();
    rows.sort_by(|a, b| (&a.0, a.2.occurred_at, &a.2.id).cmp(&(&b.0, b.2.occurred_at, &b.2.id)));
    rows
}

fn all_histories() -> impl Strategy<Value = (usize, Vec<History>)> {
    (2usize..5).prop_flat_map(|stages| (Just(stages), prop::collection::vec(history(stages), 0..7)))
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(200))]

    #[test]
    fn per_stage_touchpoint_counts_sum_to_the_total((stages, histories) in all_histories()) {
        let d = data(stages, &histories);
        let log = InteractionLog::new(&d.journey, &d.transitions, &d.touchpoints).unwrap();
        let map = JourneyMap::compute(&log, Scope::all(), &MapOptions::default());
        let in_stages: u64 = map.stages.iter().map(|s| s.touchpoints).sum();
        prop_assert_eq!(in_stages + map.touchpoints_before_entry, d.touchpoints.len() as u64);
        prop_assert_eq!(map.touchpoints, d.touchpoints.len() as u64);
        // Each stage's counts by channel are the reference's.
        let mut expected: BTreeMap<(String, String), u64> = BTreeMap::new();
        for (_, stage, tp) in staged(&d) {
            if let Some(stage) = stage {
                *expected.entry((stage, tp.channel.to_string())).or_default() += 1;
            }
        }
        let mut got: BTreeMap<(String, String), u64> = BTreeMap::new();
        for stage in &map.stages {
            let by_channel: u64 = stage.by_channel.iter().map(|s| s.count).sum();
            let by_interaction: u64 = stage.by_interaction.iter().map(|s| s.count).sum();
            prop_assert_eq!(by_channel, stage.touchpoints);
            prop_assert_eq!(by_interaction, stage.touchpoints);
            for share in &stage.by_channel {
                got.insert((stage.stage.to_string(), share.key.to_string()), share.count);
            }
        }
        prop_assert_eq!(got, expected);
    }

    #[test]
    fn gap_counts_equal_the_channel_changes((stages, histories) in all_histories()) {
        let d = data(stages, &histories);
        let log = InteractionLog::new(&d.journey, &d.transitions, &d.touchpoints).unwrap();
        let report = GapReport::compute(&log, Scope::all(), &GapOptions::default());
        let rows = staged(&d);
        let (mut changes, mut device_changes) = (0u64, 0u64);
        let mut last_device: BTreeMap<&str, &str> = BTreeMap::new();
        // Stayers: per stage visit (a run of a contact's touchpoints in one stage),
        // whether it switched channel; per contact, whether it switched in the journey.
        let mut visits: Vec<bool> = Vec::new();
        let mut contacts: BTreeMap<&str, bool> = BTreeMap::new();
        for (i, (contact, stage, tp)) in rows.iter().enumerate() {
            let previous = i.checked_sub(1).map(|p| &rows[p]).filter(|p| &p.0 == contact);
            let device = tp.device.as_ref().map(|d| d.as_str());
            let earlier_device = last_device.get(contact.as_str()).copied();
            if stage.is_some() {
                let switched = previous.is_some_and(|p| p.2.channel != tp.channel);
                changes += u64::from(switched);
                if previous.is_some_and(|p| &p.1 == stage) {
                    if let Some(last) = visits.last_mut() { *last |= switched }
                } else {
                    visits.push(switched);
                }
                *contacts.entry(contact.as_str()).or_default() |= switched;
                if let (Some(a), Some(b)) = (earlier_device, device) {
                    device_changes += u64::from(a != b);
                }
            }
            if let Some(device) = device {
                last_device.insert(contact.as_str(), device);
            }
        }
        let channel = &report.dimensions[0];
        prop_assert_eq!(channel.switch_count, changes);
        prop_assert_eq!(channel.switches.iter().map(|s| s.followed.total()).sum::<u64>(), changes);
        let per_stage: u64 = channel.stages.iter().flat_map(|s| &s.switches).map(|s| s.followed.total()).sum();
        prop_assert_eq!(per_stage, changes);
        let stage_stayers: u64 = channel.stages.iter().map(|s| s.same.total()).sum();
        prop_assert_eq!(stage_stayers, visits.iter().filter(|&&s| !s).count() as u64);
        prop_assert_eq!(channel.same.total(), contacts.values().filter(|&&s| !s).count() as u64);
        prop_assert_eq!(report.dimensions[1].switch_count, device_changes);
    }

    #[test]
    fn a_breakdown_by_segment_sums_to_the_whole((stages, histories) in all_histories()) {
        let d = data(stages, &histories);
        let log = InteractionLog::new(&d.journey, &d.transitions, &d.touchpoints).unwrap();
        let tier = |name: &str, value: &str| {
            let condition = serde_json::from_value(serde_json::json!({"field": "contact.tier", "op": "eq", "value": value}));
            Segment::new(id(name), condition.unwrap()).unwrap()
        };
        let parts = Segments::by_segment(log.contacts(), &d.contacts, &[tier("Gold", "gold"), tier("Silver", "silver")]);
        let whole = JourneyMap::compute(&log, Scope::all(), &MapOptions::default());
        let maps = breakdown(&parts, Scope::all(), |scope| JourneyMap::compute(&log, scope, &MapOptions::default()));
        prop_assert_eq!(maps.iter().map(|(_, m)| m.contacts).sum::<u64>(), whole.contacts);
        prop_assert_eq!(maps.iter().map(|(_, m)| m.touchpoints).sum::<u64>(), whole.touchpoints);
        for (s, stage) in whole.stages.iter().enumerate() {
            prop_assert_eq!(maps.iter().map(|(_, m)| m.stages[s].touchpoints).sum::<u64>(), stage.touchpoints);
            prop_assert_eq!(maps.iter().map(|(_, m)| m.stages[s].contacts).sum::<u64>(), stage.contacts);
        }
        let whole_gaps = GapReport::compute(&log, Scope::all(), &GapOptions::default());
        let gaps = breakdown(&parts, Scope::all(), |scope| GapReport::compute(&log, scope, &GapOptions::default()));
        prop_assert_eq!(gaps.iter().map(|(_, g)| g.dimensions[0].switch_count).sum::<u64>(), whole_gaps.dimensions[0].switch_count);
    }

    #[test]
    fn touchpoints_and_referrals_round_trip_through_serde(
        minute in -100_000i64..100_000,
        sentiment in prop::option::of(-1.0f64..=1.0),
        changes in prop::collection::vec(0i64..1000, 0..6),
    ) {
        let mut tp = Touchpoint::new(id("t"), id("ada"), at(minute), id("social"), id("repost"))
            .with_outcome(id("new_follower"))
            .in_stage(id("free"), id("s0"));
        if let Some(s) = sentiment {
            tp = tp.with_sentiment(Sentiment::new(s).unwrap());
        }
        let back: Touchpoint = serde_json::from_str(&serde_json::to_string(&tp).unwrap()).unwrap();
        prop_assert_eq!(back, tp);
        let mut referral = Referral::new(id("ada"), id("bob"), id("spring"), at(minute)).unwrap();
        let mut when = minute;
        for (i, step) in changes.iter().enumerate() {
            when += step;
            let result = if i % 2 == 0 { referral.deactivate(at(when), None) } else { referral.reactivate(at(when), None) };
            prop_assert!(result.is_ok());
        }
        let back: Referral = serde_json::from_str(&serde_json::to_string(&referral).unwrap()).unwrap();
        prop_assert_eq!(back.version(), changes.len() as u64 + 1);
        prop_assert_eq!(back, referral);
    }
}
