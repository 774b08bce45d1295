//! Properties of the dashboard analytics against a simple reference model: random
//! histories (every move decided by `decide`) of a free journey, queried through the
//! compact log, the incremental index and a naive recomputation.

use std::collections::{BTreeMap, BTreeSet};

use chrono::{DateTime, FixedOffset, TimeDelta, Utc};
use journeys::analytics::{
    Buckets, FunnelMode, FunnelSpec, Granularity, LiveIndex, Scope, StallThresholds, Step, TransitionLog,
};
use journeys::{
    ActorId, Journey, MembershipState, Move, RuleId, SequencePolicy, Source, Stage, StageOutcome, Transition,
    decide,
};
use proptest::prelude::*;

const STAGES: [&str; 5] = ["lead", "demo", "trial", "won", "lost"];

fn journey() -> Journey {
    Journey::new(
        "referral",
        "Referral",
        SequencePolicy::AnyOrder,
        [
            Stage::new("lead", "Lead").unwrap(),
            Stage::new("demo", "Demo").unwrap(),
            Stage::new("trial", "Trial").unwrap(),
            Stage::new("won", "Won").unwrap().with_outcome(StageOutcome::Converted),
            Stage::new("lost", "Lost").unwrap().exit().with_outcome(StageOutcome::Lost),
        ],
    )
    .unwrap()
}

fn start() -> DateTime<Utc> {
    "2026-01-01T00:00:00Z".parse().unwrap()
}

/// One contact's moves: (stage, seconds after the previous move, manual or not).
type History = Vec<(usize, i64, bool)>;

fn histories() -> impl Strategy<Value = Vec<History>> {
    let step = (0..STAGES.len(), prop_oneof![Just(0i64), 0..400_000i64], any::<bool>());
    prop::collection::vec(prop::collection::vec(step, 1..7), 1..14)
}

/// The transitions of `histories` (contact `i` is `c{i:03}`), decided one by one,
/// in time order. Repeated stages are dropped (the journey refuses them).
fn transitions(histories: &[History]) -> Vec<Transition> {
    let journey = journey();
    let mut all = Vec::new();
    for (i, history) in histories.iter().enumerate() {
        let contact: journeys::ContactId = format!("c{i:03}").parse().unwrap();
        let mut state: Option<MembershipState> = None;
        let mut at = start() + TimeDelta::seconds(i as i64 * 3_000);
        for &(stage, gap, manual) in history {
            at += TimeDelta::seconds(gap);
            if state.as_ref().is_some_and(|s| s.stage == STAGES[stage]) {
                continue;
            }
            let source = if manual {
                Source::manual(ActorId::new("ada").unwrap())
            } else {
                Source::automation(RuleId::new("auto").unwrap())
            };
            let request = Move::to_stage(contact.clone(), STAGES[stage].parse().unwrap(), at, source);
            let t = decide(&journey, state.as_ref(), &request).unwrap();
            state = Some(MembershipState::after(&t));
            all.push(t);
        }
    }
    all.sort_by_key(|t| t.occurred_at);
    all
}

fn log_of(transitions: &[Transition]) -> TransitionLog {
    TransitionLog::from_transitions([journey()], transitions).unwrap()
}

/// The reference model: per contact, its (stage, at, manual) moves up to `as_of`.
fn model(transitions: &[Transition], as_of: DateTime<Utc>) -> BTreeMap<String, Vec<(usize, i64)>> {
    let mut by_contact: BTreeMap<String, Vec<(usize, i64)>> = BTreeMap::new();
    for t in transitions.iter().filter(|t| t.occurred_at <= as_of) {
        let stage = STAGES.iter().position(|s| t.to == *s).unwrap();
        by_contact.entry(t.contact.to_string()).or_default().push((stage, t.occurred_at.timestamp()));
    }
    by_contact
}

fn funnel(window_days: i64, mode: FunnelMode) -> FunnelSpec {
    funnel_of(4, window_days, mode)
}

/// The funnel over the first `steps` stages in order.
fn funnel_of(steps: usize, window_days: i64, mode: FunnelMode) -> FunnelSpec {
    let j = journey();
    let steps = STAGES[..steps].iter().map(|s| Step::enter(&j, s).unwrap());
    FunnelSpec::new(steps, TimeDelta::days(window_days)).unwrap().with_mode(mode)
}

/// The longest chain over the first `steps` stages from event `i` (step `level`
/// taken at `i`), by trying every later event: the definition of the default mode,
/// without the greedy shortcut.
fn longest(events: &[(usize, i64)], steps: usize, i: usize, level: usize, t1: i64, window: i64) -> usize {
    if level == steps {
        return level;
    }
    (i + 1..events.len())
        .filter(|&j| events[j].0 == level && events[j].1 - t1 <= window)
        .map(|j| longest(events, steps, j, level + 1, t1, window))
        .max()
        .unwrap_or(level)
}

fn as_of_strategy() -> impl Strategy<Value = i64> {
    0..3_000_000i64
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 128, ..ProptestConfig::default() })]

    #[test]
    fn queries_match_the_reference_model(h in histories(), offset in as_of_strategy()) {
        let ts = transitions(&h);
        let log = log_of(&ts);
        let r = log.journey("referral").unwrap();
        let as_of = start() + TimeDelta::seconds(offset);
        let scope = Scope::all().as_of(as_of);
        let m = model(&ts, as_of);

        // Current stage counts, conserved: each contact that entered is in one stage.
        let counts = r.current_stage_counts(scope);
        let mut expected = vec![0u64; STAGES.len()];
        for events in m.values() {
            expected[events.last().unwrap().0] += 1;
        }
        prop_assert_eq!(&counts.contacts, &expected);
        prop_assert_eq!(counts.total(), m.len() as u64);

        // Reach: distinct contacts per stage, never more than entered.
        let reach = r.reached(scope);
        for (s, &n) in reach.reached.iter().enumerate() {
            let expected = m.values().filter(|e| e.iter().any(|&(st, _)| st == s)).count() as u64;
            prop_assert_eq!(n, expected);
            prop_assert!(n <= m.len() as u64);
        }

        // Completed stays per stage, open stays apart: together one per transition.
        let stays = r.time_in_stage(scope);
        for s in 0..STAGES.len() {
            let mut expected: Vec<u32> = m
                .values()
                .flat_map(|e| e.windows(2).filter(|w| w[0].0 == s).map(|w| (w[1].1 - w[0].1) as u32))
                .collect();
            let mut got = stays.completed[s].seconds().to_vec();
            expected.sort_unstable();
            got.sort_unstable();
            prop_assert_eq!(got, expected);
            prop_assert_eq!(stays.open[s].len() as u64, counts.contacts[s]);
        }
        let total: usize = stays.completed.iter().chain(&stays.open).map(|d| d.len()).sum();
        prop_assert_eq!(total, m.values().map(Vec::len).sum::<usize>());

        // Flows: entries per first stage, moves per consecutive pair.
        let flows = r.flows(scope);
        for events in m.values() {
            prop_assert!(flows.moves(None, events[0].0) > 0);
        }
        let moves: u64 = flows.counts.iter().sum();
        prop_assert_eq!(moves, m.values().map(|e| e.len() as u64).sum::<u64>());

        // Window funnel (default mode) against exhaustive search: funnels of up to
        // four steps and longer ones take different paths.
        for steps in [2, 4, 5] {
            let got = r.window_funnel(&funnel_of(steps, 3, FunnelMode::default()), scope);
            let mut expected = vec![0u64; steps];
            for events in m.values() {
                let level = (0..events.len())
                    .filter(|&i| events[i].0 == 0)
                    .map(|i| longest(events, steps, i, 1, events[i].1, 3 * 86_400))
                    .max();
                if let Some(level) = level {
                    expected[level - 1] += 1;
                }
            }
            prop_assert_eq!(&got.max_level, &expected, "{} steps", steps);
        }
    }

    #[test]
    fn funnel_levels_are_monotone_in_the_window(h in histories(), a in 0i64..10, b in 0i64..10, strict in any::<bool>()) {
        let log = log_of(&transitions(&h));
        let r = log.journey("referral").unwrap();
        let (small, large) = (a.min(b), a.max(b));
        let mode = FunnelMode { strict_increase: strict, ..FunnelMode::default() };
        let narrow = r.window_funnel(&funnel(small, mode), Scope::all());
        let wide = r.window_funnel(&funnel(large, mode), Scope::all());
        for k in 1..=4 {
            prop_assert!(narrow.reached(k) <= wide.reached(k), "level {}: {:?} vs {:?}", k, narrow, wide);
        }
        prop_assert_eq!(narrow.reached(1), wide.reached(1));
    }

    #[test]
    fn strict_modes_never_reach_further_than_the_default(h in histories(), days in 0i64..10) {
        let log = log_of(&transitions(&h));
        let r = log.journey("referral").unwrap();
        let default = r.window_funnel(&funnel(days, FunnelMode::default()), Scope::all());
        for mode in [
            FunnelMode { strict_order: true, ..FunnelMode::default() },
            FunnelMode { strict_dedup: true, ..FunnelMode::default() },
            FunnelMode { strict_increase: true, ..FunnelMode::default() },
        ] {
            let strict = r.window_funnel(&funnel(days, mode), Scope::all());
            for k in 1..=4 {
                prop_assert!(strict.reached(k) <= default.reached(k), "{:?} level {}", mode, k);
            }
        }
    }

    #[test]
    fn population_is_conserved_and_equals_counts_as_of_each_bucket_end(h in histories()) {
        let ts = transitions(&h);
        let log = log_of(&ts);
        let r = log.journey("referral").unwrap();
        let buckets = Buckets::new(Granularity::Day, start(), 40, FixedOffset::east_opt(2 * 3600).unwrap()).unwrap();
        let population = r.population(&buckets, None);
        for b in 0..buckets.len() {
            // "At the bucket end" = every transition before it = as of one second before.
            let end = buckets.end(b).with_timezone(&Utc) - TimeDelta::seconds(1);
            let counts = r.current_stage_counts(Scope::all().as_of(end));
            let row: Vec<u64> = (0..STAGES.len()).map(|s| population.get(b, s)).collect();
            prop_assert_eq!(&row, &counts.contacts, "bucket {}", b);
            prop_assert_eq!(row.iter().sum::<u64>(), model(&ts, end).len() as u64);
        }
    }

    #[test]
    fn incremental_index_equals_batch(h in histories(), after in 0i64..2_000_000, days in 0i64..6) {
        let ts = transitions(&h);
        let mut live = LiveIndex::new(journey());
        for t in &ts {
            live.append(t).unwrap();
        }
        let log = log_of(&ts);
        let r = log.journey("referral").unwrap();
        prop_assert_eq!(live.current_stage_counts(), r.current_stage_counts(Scope::all()));
        let as_of = log.last_at().unwrap() + TimeDelta::seconds(after);
        let thresholds = StallThresholds::after(TimeDelta::days(days)).stage("trial", TimeDelta::days(days + 1));
        prop_assert_eq!(live.stalled_counts(&thresholds, as_of).unwrap(), r.stalled_counts(&thresholds, as_of, None).unwrap());
        let named = |list: Vec<journeys::analytics::StalledContact>, table: &journeys::analytics::ContactTable| {
            list.into_iter().map(|c| (table.name(c.contact).to_owned(), c.stage, c.since)).collect::<BTreeSet<_>>()
        };
        prop_assert_eq!(
            named(live.stalled_contacts(&thresholds, as_of).unwrap(), live.contacts()),
            named(r.stalled_contacts(&thresholds, as_of, None).unwrap(), log.contacts())
        );
    }

    #[test]
    fn merging_disjoint_shards_gives_the_whole(h in histories(), shard_bits in any::<u16>(), offset in as_of_strategy()) {
        let ts = transitions(&h);
        let in_a = |t: &Transition| {
            let i: usize = t.contact.as_str()[1..].parse().unwrap();
            shard_bits >> (i % 16) & 1 == 1
        };
        let (a, b): (Vec<Transition>, Vec<Transition>) = ts.iter().cloned().partition(in_a);
        let whole = log_of(&ts);
        let as_of = start() + TimeDelta::seconds(offset);
        let scope = Scope::all().as_of(as_of);
        let days = Buckets::new(Granularity::Week, start(), 8, FixedOffset::east_opt(0).unwrap()).unwrap();
        let spec = funnel(2, FunnelMode::default());
        let thresholds = StallThresholds::after(TimeDelta::days(2));
        let w = whole.journey("referral").unwrap();

        // A shard with no transition still answers (zeros), from an empty log.
        let (la, lb) = (log_of(&a), log_of(&b));
        let (ra, rb) = (la.journey("referral").unwrap(), lb.journey("referral").unwrap());

        let mut counts = ra.current_stage_counts(scope);
        counts.merge(&rb.current_stage_counts(scope)).unwrap();
        prop_assert_eq!(counts, w.current_stage_counts(scope));
        let mut reach = ra.reached(scope);
        reach.merge(&rb.reached(scope)).unwrap();
        prop_assert_eq!(reach, w.reached(scope));
        let mut f = ra.window_funnel(&spec, scope);
        f.merge(&rb.window_funnel(&spec, scope)).unwrap();
        prop_assert_eq!(f, w.window_funnel(&spec, scope));
        let mut p = ra.population(&days, None);
        p.merge(&rb.population(&days, None)).unwrap();
        prop_assert_eq!(p, w.population(&days, None));
        let mut flows = ra.flows(scope);
        flows.merge(&rb.flows(scope)).unwrap();
        prop_assert_eq!(flows, w.flows(scope));
        let mut stalled = ra.stalled_counts(&thresholds, as_of, None).unwrap();
        stalled.merge(&rb.stalled_counts(&thresholds, as_of, None).unwrap()).unwrap();
        prop_assert_eq!(stalled, w.stalled_counts(&thresholds, as_of, None).unwrap());
        let mut stays = ra.time_in_stage(scope);
        stays.merge(&rb.time_in_stage(scope)).unwrap();
        let whole_stays = w.time_in_stage(scope);
        for s in 0..STAGES.len() {
            prop_assert_eq!(stays.completed[s].summary(), whole_stays.completed[s].summary());
            prop_assert_eq!(stays.completed[s].len(), whole_stays.completed[s].len());
        }
        let mut conv = ra.time_to_convert("lead", "won", scope).unwrap();
        conv.merge(&rb.time_to_convert("lead", "won", scope).unwrap());
        let whole_conv = w.time_to_convert("lead", "won", scope).unwrap();
        prop_assert_eq!(conv.converted.summary(), whole_conv.converted.summary());
        prop_assert_eq!(conv.not_converted, whole_conv.not_converted);
    }

    #[test]
    fn flat_passes_over_the_whole_log_equal_the_passes_per_contact(h in histories(), days in 0i64..10) {
        // A segment holding every contact makes the queries walk contact by contact;
        // without one they run one flat loop over the whole log.
        let log = log_of(&transitions(&h));
        let r = log.journey("referral").unwrap();
        let everyone = journeys::analytics::ContactSet::from_fn(log.contacts(), |_, _| true);
        let (flat, per_contact) = (Scope::all(), Scope::all().segment(&everyone));
        prop_assert_eq!(r.reached(flat), r.reached(per_contact));
        let spec = funnel(days, FunnelMode::default());
        prop_assert_eq!(r.window_funnel(&spec, flat), r.window_funnel(&spec, per_contact));
        let buckets = Buckets::new(Granularity::Day, start(), 30, FixedOffset::east_opt(0).unwrap()).unwrap();
        prop_assert_eq!(r.population(&buckets, None), r.population(&buckets, Some(&everyone)));
        let summary = r.time_in_stage_summary(flat);
        prop_assert_eq!(&summary, &r.time_in_stage_summary(per_contact));
        let stays = r.time_in_stage(flat);
        let expected: Vec<_> = stays.completed.iter().map(|d| d.summary()).collect();
        prop_assert_eq!(summary.completed, expected);
    }

    #[test]
    fn a_segment_sees_what_a_log_of_its_contacts_sees(h in histories(), keep in any::<u16>()) {
        let ts = transitions(&h);
        let whole = log_of(&ts);
        let chosen = |name: &str| keep >> (name[1..].parse::<usize>().unwrap() % 16) & 1 == 1;
        let segment = journeys::analytics::ContactSet::from_fn(whole.contacts(), |_, name| chosen(name));
        let part: Vec<Transition> = ts.iter().filter(|t| chosen(t.contact.as_str())).cloned().collect();
        let part = log_of(&part);
        let (w, p) = (whole.journey("referral").unwrap(), part.journey("referral").unwrap());
        let spec = funnel(2, FunnelMode { strict_order: true, ..FunnelMode::default() });
        let scope = Scope::all().segment(&segment);
        prop_assert_eq!(w.current_stage_counts(scope), p.current_stage_counts(Scope::all()));
        prop_assert_eq!(w.window_funnel(&spec, scope), p.window_funnel(&spec, Scope::all()));
        prop_assert_eq!(w.flows(scope), p.flows(Scope::all()));
    }
}

#[test]
fn quantiles_interpolate_linearly_like_numpy() {
    let d: journeys::analytics::Durations = (1..=10).map(|x| x * 10).collect();
    // numpy.quantile([10, 20, ..., 100], [0, 0.5, 0.9, 1]) = 10, 55, 91, 100
    assert_eq!(d.quantile(0.0), Some(10.0));
    assert_eq!(d.quantile(0.5), Some(55.0));
    assert!((d.quantile(0.9).unwrap() - 91.0).abs() < 1e-9);
    assert_eq!(d.quantile(1.0), Some(100.0));
    assert_eq!(journeys::analytics::Durations::default().quantile(0.5), None);
}

#[test]
fn strict_modes_follow_their_documented_rules() {
    // lead, demo, lead again, trial, all within the window; then a same-second pair.
    let csv = "contact_id,journey,from_stage,to_stage,at,source\n\
               a,referral,,lead,2026-01-01T00:00:00Z,manual\n\
               a,referral,lead,demo,2026-01-01T01:00:00Z,manual\n\
               a,referral,demo,lead,2026-01-01T02:00:00Z,manual\n\
               a,referral,lead,trial,2026-01-01T03:00:00Z,manual\n\
               b,referral,,lead,2026-01-01T00:00:00Z,manual\n\
               b,referral,lead,demo,2026-01-01T00:00:00Z,manual\n\
               c,referral,,lead,2026-01-01T00:00:00Z,manual\n\
               c,referral,lead,demo,2026-01-01T01:00:00Z,manual\n\
               c,referral,demo,demo,2026-01-01T02:00:00Z,manual\n\
               c,referral,demo,trial,2026-01-01T03:00:00Z,manual\n";
    let log = TransitionLog::read_csv(csv.as_bytes(), [journey()], 0).unwrap();
    let r = log.journey("referral").unwrap();
    let level = |mode, contact: &str| {
        let segment = journeys::analytics::ContactSet::from_fn(log.contacts(), |_, n| n == contact);
        let f = r.window_funnel(&funnel(1, mode), Scope::all().segment(&segment));
        (1..=4).rev().find(|&k| f.at_level(k) == 1).unwrap_or(0)
    };
    let default = FunnelMode::default();
    let order = FunnelMode { strict_order: true, ..default };
    let dedup = FunnelMode { strict_dedup: true, ..default };
    let increase = FunnelMode { strict_increase: true, ..default };
    // a: lead → demo → (lead) → trial. The repeated lead is another step: strict order
    // stops at demo; strict dedup too only if lead were the step just taken (it is not).
    assert_eq!(level(default, "a"), 3);
    assert_eq!(level(order, "a"), 2);
    assert_eq!(level(dedup, "a"), 3);
    // b: lead and demo in the same second: only strict increase refuses the step.
    assert_eq!(level(default, "b"), 2);
    assert_eq!(level(increase, "b"), 1);
    // c: lead → demo → demo again → trial: only strict dedup stops at the repeat.
    assert_eq!(level(default, "c"), 3);
    assert_eq!(level(order, "c"), 3);
    assert_eq!(level(dedup, "c"), 2);
}

#[test]
fn a_from_stage_that_breaks_the_history_is_refused() {
    let csv = "contact_id,journey,from_stage,to_stage,at,source\n\
               a,referral,,lead,2026-01-01T00:00:00Z,manual\n\
               a,referral,trial,demo,2026-01-02T00:00:00Z,manual\n";
    let err = TransitionLog::read_csv(csv.as_bytes(), [journey()], 0).unwrap_err();
    assert_eq!(err.code(), "invalid_history");
    let bad_stage =
        "contact_id,journey,from_stage,to_stage,at,source\na,referral,,nowhere,2026-01-01T00:00:00Z,manual\n";
    let err = TransitionLog::read_csv(bad_stage.as_bytes(), [journey()], 0).unwrap_err();
    assert!(matches!(err, journeys::analytics::LoadError::Row { line: 2, .. }), "{err}");
    let no_column = "contact_id,journey,to_stage,at,source\n";
    assert_eq!(
        TransitionLog::read_csv(no_column.as_bytes(), [journey()], 0).unwrap_err().code(),
        "missing_column"
    );
}

#[test]
fn the_csv_reader_takes_rfc_4180_and_refuses_ragged_records() {
    // A byte order mark, quoted fields (one with a comma, one with an escaped quote),
    // CRLF line ends and no line end at the very end.
    let csv = "\u{feff}contact_id,journey,from_stage,to_stage,at,source\r\n\
               \"a,1\",referral,,lead,2026-01-01T00:00:00Z,manual\r\n\
               \"b\"\"2\",\"referral\",,lead,2026-01-01T00:00:00Z,manual";
    let log = TransitionLog::read_csv(csv.as_bytes(), [journey()], 0).unwrap();
    let names: BTreeSet<&str> = log.contacts().iter().map(|(_, name)| name).collect();
    assert_eq!(names, BTreeSet::from(["a,1", "b\"2"]));
    let ragged = "contact_id,journey,from_stage,to_stage,at,source\n\
                  a,referral,,lead,2026-01-01T00:00:00Z,manual\n\
                  b,referral,,lead,2026-01-01T00:00:00Z\n";
    let err = TransitionLog::read_csv(ragged.as_bytes(), [journey()], 0).unwrap_err();
    assert!(
        matches!(err, journeys::analytics::LoadError::FieldCount { line: 3, expected: 6, found: 5 }),
        "{err}"
    );
    assert_eq!(err.code(), "field_count");
}

#[test]
fn contact_ids_of_one_shape_and_others_are_all_found() {
    // Numbered ids (the first id's shape), one too sparse to keep dense (it freezes
    // the numbering), numbered ids after that, and ids of other shapes.
    let mut names: Vec<String> = (0..300).map(|i| format!("u{:08}", (i * 7919) % 1000)).collect();
    names
        .extend(["ada", "u99999999", "u00000005", "u42", "u00000001x", "bob", "u00001999"].map(String::from));
    let mut seen = BTreeSet::new();
    names.retain(|n| seen.insert(n.clone()));
    let mut builder = journeys::analytics::LogBuilder::new([journey()]).unwrap();
    for (i, name) in names.iter().enumerate() {
        builder
            .push_row(
                name,
                "referral",
                None,
                "lead",
                1_700_000_000 + i as i64,
                journeys::SourceKind::Manual,
                None,
            )
            .unwrap();
    }
    let log = builder.finish().unwrap();
    let table = log.contacts();
    assert_eq!(table.len(), names.len());
    let mut refs = BTreeSet::new();
    for name in &names {
        let c = table.get(name).unwrap_or_else(|| panic!("{name} not found"));
        assert_eq!(table.name(c), name.as_str());
        assert!(refs.insert(c), "{name} shares a ref");
    }
    assert_eq!(table.get("u00000002"), None);
    assert_eq!(table.get("u2"), None);
    assert_eq!(
        log.journey("referral").unwrap().current_stage_counts(Scope::all()).total(),
        names.len() as u64
    );
}
