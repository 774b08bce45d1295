//! A deterministic journey-map data set: contacts walking a sales journey while they
//! touch several channels, switching now and then, a few of them advocates referring
//! others. Shared by the journey-map example, property tests and bench; the same
//! seed always gives the same data.
#![allow(dead_code, reason = "each user takes a different part")]
#![allow(clippy::expect_used, reason = "generated ids and moves are valid by construction")]

use chrono::{DateTime, Duration, Utc};
use journeys::{
    ChannelKey, ContactId, DepartmentKey, DeviceKey, InteractionKey, Journey, MembershipState, Move,
    OutcomeKey, Referral, Sentiment, SequencePolicy, Source, Stage, StageKey, StageOutcome, Touchpoint,
    Transition, decide,
};

/// SplitMix64: a tiny, fast, well-distributed generator; enough for test data.
#[derive(Clone, Debug)]
pub(crate) struct Rng(u64);

impl Rng {
    pub(crate) fn new(seed: u64) -> Self {
        Rng(seed)
    }

    pub(crate) fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// A number in `0..n`.
    pub(crate) fn below(&mut self, n: u64) -> u64 {
        ((u128::from(self.next_u64()) * u128::from(n)) >> 64) as u64
    }

    /// A number in `0.0..1.0`.
    pub(crate) fn unit(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }
}

/// Lead → Demo Complete → Trial → Customer (converted), exit Closed/Lost (lost).
pub(crate) fn sales_journey() -> Journey {
    Journey::new(
        "sales",
        "Sales",
        SequencePolicy::RequiresSequence,
        [
            Stage::new("lead", "Lead").expect("stage"),
            Stage::new("demo_complete", "Demo Complete").expect("stage"),
            Stage::new("trial", "Trial").expect("stage"),
            Stage::new("customer", "Customer").expect("stage").with_outcome(StageOutcome::Converted),
            Stage::new("closed_lost", "Closed/Lost").expect("stage").exit().with_outcome(StageOutcome::Lost),
        ],
    )
    .expect("journey")
}

/// A channel: its key, the interactions it carries, whether it has a device, and the
/// department that answers on it.
struct Channel {
    key: &'static str,
    interactions: &'static [&'static str],
    has_device: bool,
    department: &'static str,
}

const CHANNELS: [Channel; 7] = [
    Channel {
        key: "website",
        interactions: &["search", "visit", "download"],
        has_device: true,
        department: "marketing",
    },
    Channel { key: "email", interactions: &["open", "click"], has_device: true, department: "marketing" },
    Channel {
        key: "social",
        interactions: &["repost", "like", "comment"],
        has_device: true,
        department: "marketing",
    },
    Channel { key: "podcast", interactions: &["listen"], has_device: true, department: "marketing" },
    Channel { key: "phone", interactions: &["call", "complaint"], has_device: false, department: "support" },
    Channel { key: "store", interactions: &["visit", "purchase"], has_device: false, department: "sales" },
    Channel { key: "event", interactions: &["attend", "demo"], has_device: false, department: "sales" },
];

const DEVICES: [&str; 3] = ["mobile", "desktop", "tablet"];
const OUTCOMES: [&str; 5] =
    ["continued_interest", "new_follower", "referral_to_friend", "no_response", "complaint_logged"];

/// Keys parsed once, so generating millions of touchpoints clones `Arc`s only.
struct Keys {
    channels: Vec<ChannelKey>,
    interactions: Vec<Vec<InteractionKey>>,
    departments: Vec<DepartmentKey>,
    devices: Vec<DeviceKey>,
    outcomes: Vec<OutcomeKey>,
    stages: Vec<StageKey>,
}

impl Keys {
    fn new(journey: &Journey) -> Self {
        Keys {
            channels: CHANNELS.iter().map(|c| c.key.parse().expect("key")).collect(),
            interactions: CHANNELS
                .iter()
                .map(|c| c.interactions.iter().map(|i| i.parse().expect("key")).collect())
                .collect(),
            departments: CHANNELS.iter().map(|c| c.department.parse().expect("key")).collect(),
            devices: DEVICES.iter().map(|d| d.parse().expect("key")).collect(),
            outcomes: OUTCOMES.iter().map(|o| o.parse().expect("key")).collect(),
            stages: journey.stages().map(|s| s.key().clone()).collect(),
        }
    }
}

/// One generated record.
pub(crate) enum Record {
    Transition(Transition),
    Touchpoint(Touchpoint),
}

/// How much data to generate.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Size {
    pub(crate) contacts: usize,
    /// Mean touchpoints per contact (each has between half and one and a half times).
    pub(crate) touchpoints_per_contact: usize,
    /// One contact in this many is an advocate.
    pub(crate) advocate_every: usize,
}

/// The contact id of contact number `i`.
pub(crate) fn contact_id(i: usize) -> ContactId {
    format!("c{i:07}").parse().expect("id")
}

fn start() -> DateTime<Utc> {
    "2026-01-01T00:00:00Z".parse().expect("instant")
}

/// Generates the data set, handing each record to `sink` (contact by contact, each
/// contact's records in time order), and returns the referrals.
pub(crate) fn generate(size: Size, seed: u64, mut sink: impl FnMut(Record)) -> Vec<Referral> {
    let journey = sales_journey();
    let keys = Keys::new(&journey);
    let source = Source::manual("crm".parse().expect("actor"));
    let campaign: journeys::CampaignId = "spring".parse().expect("campaign");
    let mut rng = Rng::new(seed);
    let advocates = size.contacts.div_ceil(size.advocate_every.max(1));
    let mut referrals = Vec::new();
    for i in 0..size.contacts {
        let contact = contact_id(i);
        let is_advocate = i % size.advocate_every.max(1) == 0;
        let mut at = start() + Duration::minutes(rng.below(90 * 24 * 60) as i64);
        // A third of the other contacts were referred by an advocate.
        let referred = !is_advocate && rng.below(3) == 0;
        if referred {
            let advocate = contact_id(rng.below(advocates as u64) as usize * size.advocate_every.max(1));
            let mut referral =
                Referral::new(advocate, contact.clone(), campaign.clone(), at).expect("referral");
            if rng.below(20) == 0 {
                referral.deactivate(at + Duration::days(3), None).expect("deactivation");
            }
            referrals.push(referral);
        }
        let mut state: Option<MembershipState> = None;
        let mut stage = 0usize;
        let mut done = false;
        let mut channel = rng.below(CHANNELS.len() as u64) as usize;
        let mut device = rng.below(DEVICES.len() as u64) as usize;
        let count =
            size.touchpoints_per_contact / 2 + rng.below(size.touchpoints_per_contact as u64 + 1) as usize;
        // Some contacts touch the brand before entering the journey.
        let entry_after = rng.below(3) as usize;
        for n in 0..count {
            if n == entry_after && state.is_none() {
                let t = decide(
                    &journey,
                    None,
                    &Move::to_stage(contact.clone(), keys.stages[0].clone(), at, source.clone()),
                )
                .expect("entry");
                state = Some(MembershipState::after(&t));
                sink(Record::Transition(t));
                at += Duration::minutes(1);
            }
            let switched = n > 0 && rng.below(10) < 3;
            let previous = channel;
            if switched {
                channel = (channel + 1 + rng.below(CHANNELS.len() as u64 - 1) as usize) % CHANNELS.len();
            }
            if rng.below(10) == 0 {
                device = rng.below(DEVICES.len() as u64) as usize;
            }
            let spec = &CHANNELS[channel];
            let interaction = &keys.interactions[channel][rng.below(spec.interactions.len() as u64) as usize];
            let outcome = rng.below(OUTCOMES.len() as u64 + 1) as usize;
            let mut tp = Touchpoint::new(
                format!("{contact}-{n:02}").parse().expect("id"),
                contact.clone(),
                at,
                keys.channels[channel].clone(),
                interaction.clone(),
            )
            .with_department(keys.departments[channel].clone());
            if spec.has_device {
                tp = tp.with_device(keys.devices[device].clone());
            }
            if let Some(o) = keys.outcomes.get(outcome) {
                tp = tp.with_outcome(o.clone());
            }
            if rng.below(2) == 0 {
                let lean = if spec.key == "social" { 0.4 } else { 0.0 };
                let value = (rng.unit() * 2.0 - 1.0 + lean).clamp(-1.0, 1.0);
                tp = tp.with_sentiment(Sentiment::new(value).expect("sentiment"));
            }
            sink(Record::Touchpoint(tp));
            at += Duration::minutes(30 + rng.below(72 * 60) as i64);
            if done {
                continue;
            }
            if let Some(current) = &state {
                // Switching from a digital channel to phone or store loses people.
                let hard_switch = switched && CHANNELS[previous].has_device && !spec.has_device;
                let (advance, lose) = match (hard_switch, referred) {
                    (true, _) => (0.08, 0.12),
                    (false, true) => (0.30, 0.03),
                    (false, false) => (0.20, 0.04),
                };
                let roll = rng.unit();
                let next = if roll < lose {
                    Some(keys.stages.len() - 1)
                } else if roll < lose + advance && stage + 1 < keys.stages.len() - 1 {
                    Some(stage + 1)
                } else {
                    None
                };
                if let Some(next) = next {
                    let request =
                        Move::to_stage(contact.clone(), keys.stages[next].clone(), at, source.clone());
                    let t = decide(&journey, Some(current), &request).expect("a legal move");
                    state = Some(MembershipState::after(&t));
                    stage = next;
                    done = journey.is_terminal(next);
                    sink(Record::Transition(t));
                    at += Duration::minutes(1);
                    if next == keys.stages.len() - 1 {
                        // Lost contacts stop interacting; customers carry on.
                        break;
                    }
                }
            }
        }
    }
    referrals
}

/// The generated data in vectors.
pub(crate) struct DataSet {
    pub(crate) journey: Journey,
    pub(crate) transitions: Vec<Transition>,
    pub(crate) touchpoints: Vec<Touchpoint>,
    pub(crate) referrals: Vec<Referral>,
}

pub(crate) fn data_set(size: Size, seed: u64) -> DataSet {
    let (mut transitions, mut touchpoints) = (Vec::new(), Vec::new());
    let referrals = generate(size, seed, |record| match record {
        Record::Transition(t) => transitions.push(t),
        Record::Touchpoint(tp) => touchpoints.push(tp),
    });
    DataSet { journey: sales_journey(), transitions, touchpoints, referrals }
}
