//! `SqliteRepository`'s interaction store against the reference model,
//! `InMemoryRepository`: random touchpoint batches (ids repeated with the same or
//! another value, within a batch and across batches) and referral inserts and updates
//! (identical, conflicting, stale, rewriting, of unknown keys) get the same answer
//! from both, and leave the same state, read whole and page by page.
#![cfg(feature = "sqlite")]
#![allow(clippy::expect_used, reason = "a test fails by panicking")]

mod support;

use chrono::{DateTime, Duration, Utc};
use journeys::{
    CampaignId, ContactId, InMemoryRepository, InteractionRepository, Referral, ReferralKey,
    SqliteRepository, Touchpoint, TouchpointPosition,
};
use proptest::prelude::*;
use support::{block_on, contract_outcome, id};

const CONTACTS: usize = 3;
const CAMPAIGNS: usize = 2;
const TOUCHPOINT_IDS: usize = 6;
const CHANNELS: [&str; 3] = ["website", "email", "store"];
const INTERACTIONS: [&str; 2] = ["search", "purchase"];

/// A touchpoint drawn by index: `id`, `contact` and `minute` place it; `channel` and
/// `interaction` are its value, so the same id with other indexes is a conflict.
#[derive(Clone, Debug)]
struct Tp {
    id: usize,
    contact: usize,
    minute: i64,
    channel: usize,
    interaction: usize,
}

#[derive(Clone, Debug)]
enum Op {
    Append(Vec<Tp>),
    /// A new referral of `referred` by `advocate` (the next contact when the same).
    Insert {
        advocate: usize,
        referred: usize,
        campaign: usize,
        minute: i64,
    },
    /// The stored referral of `referred` with `flips` more status changes, written at
    /// its version (`stale`: one before), and given another advocate (`rewrite`), which
    /// no longer extends the stored one.
    Update {
        referred: usize,
        campaign: usize,
        flips: usize,
        stale: bool,
        rewrite: bool,
    },
}

fn touchpoint() -> impl Strategy<Value = Tp> {
    (0..TOUCHPOINT_IDS, 0..CONTACTS, 0..30i64, 0..CHANNELS.len(), 0..INTERACTIONS.len()).prop_map(
        |(id, contact, minute, channel, interaction)| Tp { id, contact, minute, channel, interaction },
    )
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        3 => prop::collection::vec(touchpoint(), 1..5).prop_map(Op::Append),
        2 => (0..CONTACTS, 0..CONTACTS, 0..CAMPAIGNS, 0..30i64)
            .prop_map(|(advocate, referred, campaign, minute)| Op::Insert { advocate, referred, campaign, minute }),
        2 => (0..CONTACTS, 0..CAMPAIGNS, 1..3usize, prop::bool::weighted(0.2), prop::bool::weighted(0.15))
            .prop_map(|(referred, campaign, flips, stale, rewrite)| Op::Update { referred, campaign, flips, stale, rewrite }),
    ]
}

fn contact(i: usize) -> ContactId {
    id(&format!("contact-{i}"))
}

fn campaign(i: usize) -> CampaignId {
    id(&format!("campaign-{i}"))
}

fn at(minute: i64) -> DateTime<Utc> {
    id::<DateTime<Utc>>("2026-01-05T09:00:00Z") + Duration::minutes(minute)
}

fn build_touchpoint(tp: &Tp) -> Touchpoint {
    Touchpoint::new(
        id(&format!("tp-{}", tp.id)),
        contact(tp.contact),
        at(tp.minute),
        id(CHANNELS[tp.channel]),
        id(INTERACTIONS[tp.interaction]),
    )
}

/// Applies `op` to `repo`; updates are built from what `reference` stores, so both
/// backends receive the same value.
async fn apply<R: InteractionRepository>(repo: &R, reference: &InMemoryRepository, op: &Op) -> String {
    match op {
        Op::Append(tps) => {
            let batch: Vec<Touchpoint> = tps.iter().map(build_touchpoint).collect();
            contract_outcome(repo.append_touchpoints(&batch).await)
        }
        Op::Insert { advocate, referred, campaign: c, minute } => {
            let advocate = if advocate == referred { (advocate + 1) % CONTACTS } else { *advocate };
            let referral = Referral::new(contact(advocate), contact(*referred), campaign(*c), at(*minute))
                .expect("distinct contacts");
            contract_outcome(repo.insert_referral(&referral).await)
        }
        Op::Update { referred, campaign: c, flips, stale, rewrite } => {
            let key = ReferralKey { campaign: campaign(*c), referred: contact(*referred) };
            let (mut referral, version) = match reference.load_referral(&key).await {
                Ok(stored) => {
                    let version = stored.version();
                    (stored, version)
                }
                // Unknown: a new referral written as an update, which must be refused.
                Err(_) => {
                    let advocate = contact((referred + 1) % CONTACTS);
                    (Referral::new(advocate, contact(*referred), campaign(*c), at(0)).expect("distinct"), 1)
                }
            };
            for _ in 0..*flips {
                let last = referral.changes().last().map_or(at(0), |change| change.at);
                let when = last + Duration::minutes(1);
                if referral.is_active() {
                    referral.deactivate(when, None).expect("a later change");
                } else {
                    referral.reactivate(when, None).expect("a later change");
                }
            }
            if *rewrite {
                // The one contact that is neither the referred nor the stored advocate.
                let advocate = (0..CONTACTS)
                    .map(contact)
                    .find(|c| c != referral.referred() && c != referral.advocate())
                    .expect("three contacts");
                referral = Referral::from_parts(
                    advocate,
                    contact(*referred),
                    campaign(*c),
                    referral.changes().to_vec(),
                )
                .expect("a valid referral");
            }
            let expected = if *stale { version.saturating_sub(1) } else { version };
            contract_outcome(repo.update_referral(&referral, expected).await)
        }
    }
}

/// Everything the operations can have changed, read whole and page by page.
async fn state<R: InteractionRepository>(repo: &R) -> String {
    let mut out = format!("{:?}\n", repo.touchpoints(None, 1_000).await.expect("touchpoints"));
    let mut after: Option<TouchpointPosition> = None;
    loop {
        let page = repo.touchpoints(after.as_ref(), 2).await.expect("a page");
        out += &format!("page {:?}\n", page.iter().map(|tp| tp.id.to_string()).collect::<Vec<_>>());
        match page.last() {
            Some(last) if page.len() == 2 => after = Some(last.position()),
            _ => break,
        }
    }
    out += &format!("{:?}\n", repo.referrals(None, 1_000).await.expect("referrals"));
    let mut after: Option<ReferralKey> = None;
    loop {
        let page = repo.referrals(after.as_ref(), 2).await.expect("a page");
        out += &format!("page {:?}\n", page.iter().map(Referral::key).collect::<Vec<_>>());
        match page.last() {
            Some(last) if page.len() == 2 => after = Some(last.key()),
            _ => break,
        }
    }
    for c in 0..CONTACTS {
        out += &format!("{:?}\n", repo.contact_touchpoints(&contact(c)).await.expect("touchpoints"));
        out += &format!("{:?}\n", repo.advocate_referrals(&contact(c)).await.expect("referrals"));
        for k in 0..CAMPAIGNS {
            let key = ReferralKey { campaign: campaign(k), referred: contact(c) };
            out += &format!("{:?}\n", repo.load_referral(&key).await.map_err(|e| contract_outcome(Err(e))));
        }
    }
    out
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, ..ProptestConfig::default() })]

    #[test]
    fn sqlite_interactions_answer_like_the_in_memory_reference(ops in prop::collection::vec(op(), 1..25)) {
        block_on(async {
            let reference = InMemoryRepository::new();
            let sqlite = SqliteRepository::open_in_memory().expect("opened");
            for (n, op) in ops.iter().enumerate() {
                // The SQLite backend goes first: the update is built from the reference's
                // state before the operation.
                let actual = apply(&sqlite, &reference, op).await;
                let expected = apply(&reference, &reference, op).await;
                prop_assert_eq!(&actual, &expected, "operation {}: {:?}", n, op);
            }
            prop_assert_eq!(state(&sqlite).await, state(&reference).await);
            Ok(())
        })?;
    }
}
