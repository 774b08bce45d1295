//! Journey map, gap analysis, timeline and ambassador reports on small data whose
//! answers are worked out by hand below.

mod support;

use chrono::{DateTime, Duration, Utc};
use journeys::analytics::{Scope, Segments, TransitionLog, breakdown};
use journeys::journey_map::{
    AmbassadorOptions, AmbassadorReport, FollowUp, GapDimension, GapOptions, GapReport, InteractionLog,
    JourneyMap, MapOptions, StageMap,
};
use journeys::segment::Segment;
use journeys::{
    Contact, ContactId, Journey, MembershipState, Move, Referral, Sentiment, Source, Touchpoint, Transition,
    decide,
};
use support::{id, referral};

fn at(minutes: i64) -> DateTime<Utc> {
    "2026-03-02T09:00:00Z".parse::<DateTime<Utc>>().unwrap() + Duration::minutes(minutes)
}

/// A contact's moves through `journey`, each decided by `decide`.
fn walk(journey: &Journey, contact: &str, steps: &[(&str, i64)]) -> Vec<Transition> {
    let mut state: Option<MembershipState> = None;
    steps
        .iter()
        .map(|(stage, minutes)| {
            let request = Move::to_stage(id(contact), id(stage), at(*minutes), Source::manual(id("sales")));
            let t = decide(journey, state.as_ref(), &request).unwrap();
            state = Some(MembershipState::after(&t));
            t
        })
        .collect()
}

struct Tp<'a> {
    id: &'a str,
    contact: &'a str,
    minutes: i64,
    channel: &'a str,
    interaction: &'a str,
    outcome: Option<&'a str>,
    sentiment: Option<f64>,
    device: Option<&'a str>,
    department: Option<&'a str>,
}

fn tp(t: Tp<'_>) -> Touchpoint {
    let mut tp = Touchpoint::new(id(t.id), id(t.contact), at(t.minutes), id(t.channel), id(t.interaction));
    if let Some(o) = t.outcome {
        tp = tp.with_outcome(id(o));
    }
    if let Some(s) = t.sentiment {
        tp = tp.with_sentiment(Sentiment::new(s).unwrap());
    }
    if let Some(d) = t.device {
        tp = tp.with_device(id(d));
    }
    if let Some(d) = t.department {
        tp = tp.with_department(id(d));
    }
    tp
}

const BASE: Tp<'static> = Tp {
    id: "",
    contact: "",
    minutes: 0,
    channel: "web",
    interaction: "visit",
    outcome: None,
    sentiment: None,
    device: None,
    department: None,
};

/// The referral journey (lead → demo_complete → trial → conversion, exit
/// closed_lost) and three contacts:
/// - ada enters lead at 0, demo_complete at 20, trial at 40, conversion at 60;
///   touchpoints web at −10 (before entry), web at 5, email at 10, phone at 30,
///   store at 50.
/// - bob enters lead at 0 and is lost at 20; touchpoints email at 5, web at 15.
/// - cyd enters lead at 0 and stays; one social touchpoint at 5.
fn given() -> InteractionLog {
    let journey = referral();
    let mut transitions =
        walk(&journey, "ada", &[("lead", 0), ("demo_complete", 20), ("trial", 40), ("conversion", 60)]);
    transitions.extend(walk(&journey, "bob", &[("lead", 0), ("closed_lost", 20)]));
    transitions.extend(walk(&journey, "cyd", &[("lead", 0)]));
    let touchpoints = [
        tp(Tp {
            id: "a0",
            contact: "ada",
            minutes: -10,
            interaction: "search",
            device: Some("mobile"),
            ..BASE
        }),
        tp(Tp {
            id: "a1",
            contact: "ada",
            minutes: 5,
            interaction: "search",
            outcome: Some("continued_interest"),
            sentiment: Some(0.5),
            device: Some("mobile"),
            ..BASE
        }),
        tp(Tp {
            id: "a2",
            contact: "ada",
            minutes: 10,
            channel: "email",
            interaction: "open",
            outcome: Some("continued_interest"),
            sentiment: Some(-0.5),
            device: Some("desktop"),
            ..BASE
        }),
        tp(Tp {
            id: "a3",
            contact: "ada",
            minutes: 30,
            channel: "phone",
            interaction: "call",
            outcome: Some("booked_demo"),
            ..BASE
        }),
        tp(Tp {
            id: "a4",
            contact: "ada",
            minutes: 50,
            channel: "store",
            interaction: "purchase",
            sentiment: Some(1.0),
            ..BASE
        }),
        tp(Tp {
            id: "b1",
            contact: "bob",
            minutes: 5,
            channel: "email",
            interaction: "open",
            department: Some("marketing"),
            ..BASE
        }),
        tp(Tp { id: "b2", contact: "bob", minutes: 15, department: Some("support"), ..BASE }),
        tp(Tp {
            id: "c1",
            contact: "cyd",
            minutes: 5,
            channel: "social",
            interaction: "repost",
            outcome: Some("new_follower"),
            sentiment: Some(0.8),
            ..BASE
        }),
    ];
    // Handed over in reverse: the log orders every contact's history itself.
    InteractionLog::new(&journey, transitions.iter().rev(), touchpoints.iter().rev()).unwrap()
}

fn stage<'a>(map: &'a JourneyMap, key: &str) -> &'a StageMap {
    map.stages.iter().find(|s| s.stage == key).unwrap()
}

fn counts<K: AsRef<str>>(shares: &[journeys::journey_map::Share<K>]) -> Vec<(String, u64)> {
    shares.iter().map(|s| (s.key.as_ref().to_owned(), s.count)).collect()
}

fn pairs(list: &[(&str, u64)]) -> Vec<(String, u64)> {
    list.iter().map(|(k, n)| ((*k).to_owned(), *n)).collect()
}

#[test]
fn the_journey_map_counts_each_stage() {
    let log = given();
    let map = JourneyMap::compute(&log, Scope::all(), &MapOptions::default());
    // 8 touchpoints; ada's at −10 is before she entered.
    assert_eq!((map.contacts, map.touchpoints, map.touchpoints_before_entry), (3, 8, 1));

    // Lead: all three passed; ada web+email, bob email+web, cyd social = 5.
    let lead = stage(&map, "lead");
    assert_eq!((lead.contacts, lead.touchpoints), (3, 5));
    assert_eq!(counts(&lead.by_channel), pairs(&[("email", 2), ("web", 2), ("social", 1)]));
    assert_eq!(lead.by_channel[0].share, 2.0 / 5.0);
    assert_eq!(
        counts(&lead.by_interaction),
        pairs(&[("open", 2), ("repost", 1), ("search", 1), ("visit", 1)])
    );
    // Sentiments 0.5, −0.5 and 0.8.
    assert_eq!(lead.sentiment_count, 3);
    assert!((lead.mean_sentiment.unwrap() - 0.8 / 3.0).abs() < 1e-12);
    assert_eq!(counts(&lead.top_outcomes), pairs(&[("continued_interest", 2), ("new_follower", 1)]));
    // Last channel in lead: ada email (advanced), bob web (lost), cyd social (still there).
    let mut conversion: Vec<_> = lead
        .conversion
        .iter()
        .map(|c| (c.last_channel.as_ref().map(|k| k.to_string()), c.stays, c.advanced))
        .collect();
    conversion.sort();
    assert_eq!(
        conversion,
        [(Some("email".into()), 1, 1), (Some("social".into()), 1, 0), (Some("web".into()), 1, 0)]
    );
    assert_eq!(lead.next_stage.as_ref().unwrap(), "demo_complete");

    let demo = stage(&map, "demo_complete");
    assert_eq!((demo.contacts, demo.touchpoints, demo.mean_sentiment), (1, 1, None));
    assert_eq!(counts(&demo.top_outcomes), pairs(&[("booked_demo", 1)]));
    let trial = stage(&map, "trial");
    assert_eq!((trial.touchpoints, trial.mean_sentiment), (1, Some(1.0)));
    assert_eq!(
        (trial.conversion[0].stays, trial.conversion[0].advanced, trial.conversion[0].rate),
        (1, 1, 1.0)
    );
    // The last step has no next stage; the exit had bob and no touchpoints.
    let conversion = stage(&map, "conversion");
    assert_eq!(
        (conversion.contacts, conversion.next_stage.clone(), conversion.conversion.len()),
        (1, None, 0)
    );
    assert_eq!((stage(&map, "closed_lost").contacts, stage(&map, "closed_lost").touchpoints), (1, 0));
}

/// ada is on the pro plan, bob on the free one, cyd has no plan recorded.
fn contacts() -> Vec<Contact> {
    vec![
        Contact::new(id("ada")).with_attribute(id("plan"), "pro".into()),
        Contact::new(id("bob")).with_attribute(id("plan"), "free".into()),
        Contact::new(id("cyd")),
    ]
}

fn plan_is(name: &str, plan: &str) -> Segment {
    let condition =
        serde_json::from_value(serde_json::json!({"field": "contact.plan", "op": "eq", "value": plan}));
    Segment::new(id(name), condition.unwrap()).unwrap()
}

#[test]
fn a_segment_restricts_the_journey_map_to_its_members() {
    let log = given();
    let pro = plan_is("Pro", "pro").members(log.contacts(), &contacts());
    let map = JourneyMap::compute(&log, Scope::all().segment(&pro), &MapOptions::default());
    // Only ada: 5 touchpoints, one before entry; web and email in the lead.
    assert_eq!((map.contacts, map.touchpoints, map.touchpoints_before_entry), (1, 5, 1));
    assert_eq!(counts(&stage(&map, "lead").by_channel), pairs(&[("email", 1), ("web", 1)]));
    assert_eq!(stage(&map, "closed_lost").contacts, 0);
}

#[test]
fn a_breakdown_by_segment_adds_up_to_the_whole() {
    let log = given();
    let parts =
        Segments::by_segment(log.contacts(), &contacts(), &[plan_is("Pro", "pro"), plan_is("Free", "free")]);
    let maps =
        breakdown(&parts, Scope::all(), |scope| JourneyMap::compute(&log, scope, &MapOptions::default()));
    // ada is Pro, bob Free, and cyd, with no plan, in no segment.
    let names: Vec<Option<String>> =
        maps.iter().map(|(name, _)| name.as_ref().map(ToString::to_string)).collect();
    let mut sorted = names.clone();
    sorted.sort();
    assert_eq!(sorted, [None, Some("Free".into()), Some("Pro".into())]);
    let touchpoints: Vec<u64> = maps.iter().map(|(_, m)| m.touchpoints).collect();
    assert_eq!(touchpoints.iter().sum::<u64>(), 8);
    let lead: u64 = maps.iter().map(|(_, m)| stage(m, "lead").touchpoints).sum();
    assert_eq!(lead, 5);
}

#[test]
fn the_same_segment_restricts_the_dashboard_analytics() {
    let journey = referral();
    let mut transitions = walk(&journey, "ada", &[("lead", 0), ("demo_complete", 20)]);
    transitions.extend(walk(&journey, "bob", &[("lead", 0)]));
    let log = TransitionLog::from_transitions([journey], &transitions).unwrap();
    let pro = plan_is("Pro", "pro").members(log.contacts(), &contacts());
    let counts = log.journey("referral").unwrap().current_stage_counts(Scope::all().segment(&pro));
    assert_eq!((counts.get("lead"), counts.get("demo_complete")), (Some(0), Some(1)));
}

#[test]
fn an_as_of_instant_cuts_touchpoints_and_moves() {
    let log = given();
    // At minute 12: ada in lead with web at 5 and email at 10 (−10 before entry), bob in
    // lead with email at 5, cyd in lead with social at 5.
    let map = JourneyMap::compute(&log, Scope::all().as_of(at(12)), &MapOptions::default());
    assert_eq!((map.touchpoints, map.touchpoints_before_entry), (5, 1));
    assert_eq!(stage(&map, "lead").touchpoints, 4);
    assert_eq!(stage(&map, "demo_complete").contacts, 0);
}

#[test]
fn the_timeline_shows_the_stage_at_each_touchpoint() {
    let log = given();
    let rows = log.timeline(&id("ada"));
    let got: Vec<_> = rows
        .iter()
        .map(|r| {
            (
                r.touchpoint.to_string(),
                r.interaction.to_string(),
                r.outcome.as_ref().map(ToString::to_string),
                r.stage.as_ref().map(ToString::to_string),
            )
        })
        .collect();
    let row = |tp: &str, interaction: &str, outcome: Option<&str>, stage: Option<&str>| {
        (tp.to_owned(), interaction.to_owned(), outcome.map(str::to_owned), stage.map(str::to_owned))
    };
    assert_eq!(
        got,
        [
            row("a0", "search", None, None),
            row("a1", "search", Some("continued_interest"), Some("lead")),
            row("a2", "open", Some("continued_interest"), Some("lead")),
            row("a3", "call", Some("booked_demo"), Some("demo_complete")),
            row("a4", "purchase", None, Some("trial")),
        ]
    );
    assert!(log.timeline(&id("nobody")).is_empty());
}

#[test]
fn a_touchpoint_at_the_instant_of_a_move_counts_in_the_stage_it_left() {
    let journey = referral();
    let transitions = walk(&journey, "ada", &[("lead", 0), ("demo_complete", 10)]);
    let purchase = tp(Tp { id: "t", contact: "ada", minutes: 10, ..BASE });
    let log = InteractionLog::new(&journey, &transitions, [&purchase]).unwrap();
    let map = JourneyMap::compute(&log, Scope::all(), &MapOptions::default());
    assert_eq!((stage(&map, "lead").touchpoints, stage(&map, "demo_complete").touchpoints), (1, 0));
    assert_eq!(stage(&map, "lead").conversion[0].advanced, 1);
}

fn follow(advanced: u64, stayed: u64, lost: u64) -> FollowUp {
    FollowUp { advanced, stayed, lost }
}

#[test]
fn the_gap_report_ranks_switches_by_excess_drop_off() {
    let log = given();
    let report =
        GapReport::compute(&log, Scope::all(), &GapOptions::default().with_window(Duration::minutes(15)));
    let channel = &report.dimensions[0];
    assert_eq!(channel.dimension, GapDimension::Channel);
    // ada: web→web at 5 (no switch), web→email at 10 (advanced at 20), email→phone at
    // 30 (advanced at 40), phone→store at 50 (advanced at 60). bob: email→web at 15,
    // lost at 20. cyd: one social touchpoint at 5 and no move after it.
    assert_eq!(channel.switch_count, 4);
    // Stayers: only cyd kept to one channel; still in the lead (drop-off 1).
    assert_eq!(channel.same, follow(0, 1, 0));
    let ranked: Vec<_> = channel
        .switches
        .iter()
        .map(|s| (s.from.as_str(), s.to.as_str(), s.followed, s.excess_drop_off))
        .collect();
    assert_eq!(
        ranked,
        [
            // Drop-off 1 − cyd's 1 = 0; the rest 0 − 1 = −1, ties by name.
            ("email", "web", follow(0, 0, 1), 0.0),
            ("email", "phone", follow(1, 0, 0), -1.0),
            ("phone", "store", follow(1, 0, 0), -1.0),
            ("web", "email", follow(1, 0, 0), -1.0),
        ]
    );
    // Per stage: the lead had web→email and email→web, and cyd staying; the demo
    // email→phone (ada's only touchpoint there switched): no stayer.
    let lead = &channel.stages[0];
    assert_eq!(lead.same, follow(0, 1, 0));
    let lead_switches: Vec<_> = lead.switches.iter().map(|s| (s.from.as_str(), s.to.as_str())).collect();
    assert_eq!(lead_switches, [("email", "web"), ("web", "email")]);
    assert_eq!(channel.stages[1].switches.len(), 1);
    assert_eq!(channel.stages[1].same, FollowUp::default());

    // Devices: ada mobile→mobile at 5 and mobile→desktop at 10; nobody else has a
    // device, so nobody stayed on one. Departments: bob marketing→support at 15, lost.
    let device = &report.dimensions[1];
    assert_eq!((device.switch_count, device.same), (1, FollowUp::default()));
    assert_eq!((device.switches[0].from.as_str(), device.switches[0].to.as_str()), ("mobile", "desktop"));
    let department = &report.dimensions[2];
    assert_eq!((department.switch_count, department.switches[0].followed), (1, follow(0, 0, 1)));
}

#[test]
fn a_narrow_window_counts_later_moves_as_still_in_the_stage() {
    let log = given();
    let report =
        GapReport::compute(&log, Scope::all(), &GapOptions::default().with_window(Duration::minutes(5)));
    let channel = &report.dimensions[0];
    let followed = |from: &str, to: &str| {
        channel.switches.iter().find(|s| s.from == from && s.to == to).unwrap().followed
    };
    // web→email at 10, next move at 20: 10 minutes later, outside the window.
    assert_eq!(followed("web", "email"), follow(0, 1, 0));
    // email→web at 15, lost at 20: exactly at the window's end, inside it.
    assert_eq!(followed("email", "web"), follow(0, 0, 1));
    // cyd, the one stayer, never moves.
    assert_eq!(channel.same, follow(0, 1, 0));
    assert_eq!(report.window_seconds, 300);
}

#[test]
fn the_baseline_counts_contacts_who_stayed_on_one_channel_per_stage_and_overall() {
    let journey = referral();
    let mut transitions = walk(&journey, "dan", &[("lead", 0), ("demo_complete", 10)]);
    transitions.extend(walk(&journey, "eve", &[("lead", 0), ("demo_complete", 10)]));
    transitions.extend(walk(&journey, "fox", &[("lead", 0), ("closed_lost", 10)]));
    let touchpoints = [
        // dan: web at 5 and 8 in the lead, web at 12 in the demo: one channel.
        tp(Tp { id: "d1", contact: "dan", minutes: 5, ..BASE }),
        tp(Tp { id: "d2", contact: "dan", minutes: 8, ..BASE }),
        tp(Tp { id: "d3", contact: "dan", minutes: 12, ..BASE }),
        // eve: web at 5, email at 7 in the lead (a switch), then advances.
        tp(Tp { id: "e1", contact: "eve", minutes: 5, ..BASE }),
        tp(Tp { id: "e2", contact: "eve", minutes: 7, channel: "email", ..BASE }),
        // fox: email at 5 in the lead, then lost.
        tp(Tp { id: "f1", contact: "fox", minutes: 5, channel: "email", ..BASE }),
    ];
    let log = InteractionLog::new(&journey, &transitions, &touchpoints).unwrap();
    let report =
        GapReport::compute(&log, Scope::all(), &GapOptions::default().with_window(Duration::minutes(15)));
    let channel = &report.dimensions[0];
    // Lead stayers: dan (last web at 8, advanced at 10) and fox (lost at 10); eve
    // switched. Demo stayers: dan (web at 12, no move since: stayed).
    assert_eq!(channel.stages[0].same, follow(1, 0, 1));
    assert_eq!(channel.stages[1].same, follow(0, 1, 0));
    // Over the journey, per contact: dan by his last touchpoint (stayed), fox (lost).
    // Three touchpoints of dan count once.
    assert_eq!(channel.same, follow(0, 1, 1));
    // eve's web→email advanced: drop-off 0; against the lead's stayers (1 of 2
    // dropped) −0.5, against the journey's (2 of 2 dropped) −1.
    assert_eq!(channel.switch_count, 1);
    assert_eq!(channel.switches[0].followed, follow(1, 0, 0));
    assert_eq!(channel.switches[0].excess_drop_off, -1.0);
    assert_eq!(channel.stages[0].switches[0].excess_drop_off, -0.5);
}

fn referral_of(advocate: &str, referred: &str, minutes: i64) -> Referral {
    Referral::new(id(advocate), id(referred), id("spring"), at(minutes)).unwrap()
}

#[test]
fn ambassador_analytics_follow_the_referred_contacts() {
    let log = given();
    let mut withdrawn = referral_of("fay", "cyd", -5);
    withdrawn.deactivate(at(1), None).unwrap();
    let referrals = [referral_of("eve", "ada", -30), referral_of("eve", "bob", -30), withdrawn];
    let options = AmbassadorOptions::default().with_social_channels([id("social")]);
    let report = AmbassadorReport::compute(&log, Scope::all(), &referrals, &options);
    // The journey marks no converted stage: its last step, conversion, counts.
    assert_eq!(report.converted_stages, [id::<journeys::StageKey>("conversion")]);
    // eve referred ada (converted 60 minutes after entering) and bob (lost); fay's
    // referral of cyd was withdrawn and does not count.
    assert_eq!(report.advocates.len(), 1);
    let eve = &report.advocates[0];
    assert_eq!(eve.advocate, "eve");
    assert_eq!((eve.referred, eve.converted, eve.conversion), (2, 1, 0.5));
    assert_eq!(eve.reached, [2, 1, 1, 1, 1]);
    assert_eq!(eve.median_seconds_to_convert, Some(3600));
    // Referred members: ada and bob, one converted; not referred: cyd, none.
    assert_eq!((report.referred.contacts, report.referred.converted), (2, 1));
    assert_eq!(
        (report.not_referred.contacts, report.not_referred.converted, report.not_referred.rate),
        (1, 0, 0.0)
    );
    // eve: 3 × 2 referrals + 5 × 1 converted = 11; cyd: one positive social touchpoint.
    let ranked: Vec<(ContactId, f64)> =
        report.candidates.iter().map(|c| (c.contact.clone(), c.score)).collect();
    assert_eq!(ranked, [(id("eve"), 11.0), (id("cyd"), 1.0)]);
}

#[test]
fn the_reports_serialize_to_json() {
    let log = given();
    let map = JourneyMap::compute(&log, Scope::all(), &MapOptions::default());
    let json = serde_json::to_string(&map).unwrap();
    assert_eq!(serde_json::from_str::<JourneyMap>(&json).unwrap(), map);
    let gaps = GapReport::compute(&log, Scope::all(), &GapOptions::default());
    let json = serde_json::to_value(&gaps).unwrap();
    assert_eq!(json["dimensions"][0]["dimension"], "channel");
}

#[test]
fn many_channels_are_counted_in_a_map_rather_than_an_array() {
    let journey = referral();
    let transitions = walk(&journey, "ada", &[("lead", 0)]);
    // 600 channels, each touched twice in a row: 599 switches, so no stayer.
    let channels: Vec<String> = (0..600).map(|i| format!("ch{i}")).collect();
    let touchpoints: Vec<Touchpoint> = (0..1200)
        .map(|n| {
            tp(Tp {
                id: &format!("t{n:04}"),
                contact: "ada",
                minutes: 1 + n as i64,
                channel: &channels[n / 2],
                ..BASE
            })
        })
        .collect();
    let log = InteractionLog::new(&journey, &transitions, &touchpoints).unwrap();
    let report = GapReport::compute(&log, Scope::all(), &GapOptions::default());
    let channel = &report.dimensions[0];
    assert_eq!((channel.switch_count, channel.same.total()), (599, 0));
    assert_eq!((channel.stages[0].same.total(), channel.switches.len()), (0, 599));
}

#[test]
fn the_journey_map_counts_logs_with_thousands_of_key_combinations() {
    // 70 channels × 60 interaction types, every pair once, half with an outcome and
    // every third with a sentiment: more distinct combinations than the map tallies
    // one by one, so the rest are counted key by key.
    let journey = referral();
    let transitions = walk(&journey, "ada", &[("lead", 0)]);
    let touchpoints: Vec<Touchpoint> = (0..70 * 60)
        .map(|i| {
            let name = format!("t{i}");
            let (channel, interaction) = (format!("c{}", i / 60), format!("i{}", i % 60));
            tp(Tp {
                id: &name,
                contact: "ada",
                minutes: 1,
                channel: &channel,
                interaction: &interaction,
                outcome: (i % 2 == 0).then_some("won"),
                sentiment: (i % 3 == 0).then_some(0.5),
                device: None,
                department: None,
            })
        })
        .collect();
    let log = InteractionLog::new(&journey, &transitions, &touchpoints).unwrap();
    let map = JourneyMap::compute(&log, Scope::all(), &MapOptions::default());
    let lead = stage(&map, "lead");
    assert_eq!(lead.touchpoints, 4200);
    assert_eq!(lead.by_channel.len(), 70);
    assert!(lead.by_channel.iter().all(|s| s.count == 60));
    assert_eq!(lead.by_interaction.len(), 60);
    assert!(lead.by_interaction.iter().all(|s| s.count == 70));
    assert_eq!(counts(&lead.top_outcomes), pairs(&[("won", 2100)]));
    assert_eq!(lead.sentiment_count, 1400);
    assert_eq!(lead.mean_sentiment, Some(0.5));
}
