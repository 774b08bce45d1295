//! One check per clause of the [`InteractionRepository`] contract. Each takes a fresh,
//! empty repository.

use super::checks::run_writers;
use super::executor::Task;
use super::fixture::{Check, Kind, at};
use super::{Concurrency, ConformanceFailure};
use crate::error::{Entity, RepositoryError};
use crate::model::ids::CampaignId;
use crate::model::referral::{Referral, ReferralKey};
use crate::model::touchpoint::{Sentiment, Touchpoint};
use crate::repository::InteractionRepository;

type Outcome = Result<(), ConformanceFailure>;

impl Check {
    /// A touchpoint `id` of `contact` at `minutes` after the epoch, on `channel`.
    fn touchpoint(
        self,
        id: &str,
        contact: &str,
        minutes: i64,
        channel: &str,
    ) -> Result<Touchpoint, ConformanceFailure> {
        Ok(Touchpoint::new(
            self.fixture(id.parse())?,
            self.contact(contact)?,
            at(minutes),
            self.fixture(channel.parse())?,
            self.fixture("visit".parse())?,
        ))
    }

    fn referral(
        self,
        advocate: &str,
        referred: &str,
        campaign: &str,
        minutes: i64,
    ) -> Result<Referral, ConformanceFailure> {
        let campaign: CampaignId = self.fixture(campaign.parse())?;
        self.fixture(Referral::new(self.contact(advocate)?, self.contact(referred)?, campaign, at(minutes)))
    }
}

fn ids(touchpoints: &[Touchpoint]) -> Vec<String> {
    touchpoints.iter().map(|tp| tp.id.to_string()).collect()
}

/// Appending is atomic: a batch with one touchpoint whose id is stored with another
/// value fails with `AlreadyExists` and stores nothing; appending identical
/// touchpoints again is a no-op; every field loads back equal.
pub async fn touchpoint_append_is_atomic_and_idempotent<R: InteractionRepository>(repo: &R) -> Outcome {
    let c = Check("touchpoint_append_is_atomic_and_idempotent");
    let full = c
        .touchpoint("t1", "ada", 0, "social")?
        .with_device(c.fixture("mobile".parse())?)
        .with_department(c.fixture("marketing".parse())?)
        .with_outcome(c.fixture("new_follower".parse())?)
        .with_sentiment(c.fixture(Sentiment::new(-0.25))?)
        .in_stage(c.fixture("referral".parse())?, c.fixture("lead".parse())?);
    let second = c.touchpoint("t2", "ada", 5, "email")?;
    c.ok("append t1, t2", repo.append_touchpoints(&[full.clone(), second.clone()]).await)?;
    c.ok("append t1, t2 again", repo.append_touchpoints(&[full.clone(), second.clone()]).await)?;
    let mut changed = second.clone();
    changed.channel = c.fixture("phone".parse())?;
    let third = c.touchpoint("t3", "bob", 1, "phone")?;
    c.fails_with(
        "append t3 with t2 changed",
        repo.append_touchpoints(&[third.clone(), changed]).await,
        Kind::AlreadyExists(Entity::Touchpoint, "t2".into()),
    )?;
    let clash = c.touchpoint("t4", "bob", 2, "phone")?;
    let mut clash_again = clash.clone();
    clash_again.occurred_at = at(3);
    c.fails_with(
        "append one id twice with different values",
        repo.append_touchpoints(&[clash, clash_again]).await,
        Kind::AlreadyExists(Entity::Touchpoint, "t4".into()),
    )?;
    let stored = c.ok("touchpoints", repo.touchpoints(None, 100).await)?;
    c.equal("touchpoints after the refused appends", &stored, &vec![full, second])?;
    let bob = c.ok("contact_touchpoints bob", repo.contact_touchpoints(&c.contact("bob")?).await)?;
    c.equal("bob's touchpoints (none stored)", &bob, &vec![])
}

/// Touchpoints stream in `(occurred_at, id)` order whatever the order they were
/// appended in, page by page; one contact's come in the same order.
pub async fn touchpoints_stream_in_time_order<R: InteractionRepository>(repo: &R) -> Outcome {
    let c = Check("touchpoints_stream_in_time_order");
    let batches = [
        vec![c.touchpoint("b", "ada", 10, "web")?, c.touchpoint("e", "bob", 30, "web")?],
        // Back-filled: earlier than what is stored, and a tie on time broken by id.
        vec![c.touchpoint("d", "bob", 10, "email")?, c.touchpoint("a", "ada", 0, "store")?],
        vec![c.touchpoint("c", "ada", 10, "phone")?],
    ];
    for batch in &batches {
        c.ok("append", repo.append_touchpoints(batch).await)?;
    }
    let all = c.ok("touchpoints", repo.touchpoints(None, 100).await)?;
    c.equal(
        "every touchpoint in time order",
        &ids(&all),
        &vec!["a", "b", "c", "d", "e"].into_iter().map(String::from).collect(),
    )?;
    let mut paged = Vec::new();
    let mut after = None;
    loop {
        let page = c.ok("touchpoints page", repo.touchpoints(after.as_ref(), 2).await)?;
        if page.len() > 2 {
            return Err(c.fail(format!("a page of limit 2 held {}", page.len())));
        }
        let Some(last) = page.last() else { break };
        after = Some(last.position());
        paged.extend(page);
    }
    c.equal("touchpoints read in pages of 2", &ids(&paged), &ids(&all))?;
    let ada = c.ok("contact_touchpoints ada", repo.contact_touchpoints(&c.contact("ada")?).await)?;
    c.equal("ada's touchpoints in time order", &ids(&ada), &vec!["a".into(), "b".into(), "c".into()])?;
    let nobody = c.ok("contact_touchpoints nobody", repo.contact_touchpoints(&c.contact("nobody")?).await)?;
    c.equal("touchpoints of a contact with none", &nobody, &vec![])
}

/// A referral is inserted once (an identical insert succeeds, another value under its
/// key is `AlreadyExists`), changes only by extending its log at the expected version,
/// and is never removed.
pub async fn referrals_are_permanent<R: InteractionRepository>(repo: &R) -> Outcome {
    let c = Check("referrals_are_permanent");
    let created = c.referral("ada", "bob", "spring", 0)?;
    let key = created.key();
    c.ok("insert referral", repo.insert_referral(&created).await)?;
    c.ok("insert the identical referral again", repo.insert_referral(&created).await)?;
    c.fails_with(
        "insert another advocate for the same campaign and contact",
        repo.insert_referral(&c.referral("cyd", "bob", "spring", 0)?).await,
        Kind::AlreadyExists(Entity::Referral, key.to_string()),
    )?;
    let mut deactivated = created.clone();
    c.fixture(deactivated.deactivate(at(60), None))?;
    c.fails_with(
        "update at a stale version",
        repo.update_referral(&deactivated, 2).await,
        Kind::Conflict { entity: Entity::Referral, expected: 2, actual: 1 },
    )?;
    c.fails_with(
        "update that does not extend the log",
        repo.update_referral(&created, 1).await,
        Kind::AlreadyExists(Entity::Referral, key.to_string()),
    )?;
    c.ok("deactivate at version 1", repo.update_referral(&deactivated, 1).await)?;
    let loaded = c.ok("load_referral", repo.load_referral(&key).await)?;
    c.equal("referral after deactivation (kept, with its log)", &loaded, &deactivated)?;
    let mut rewritten = c.referral("ada", "bob", "spring", 5)?;
    c.fixture(rewritten.deactivate(at(60), None))?;
    c.fixture(rewritten.reactivate(at(61), None))?;
    c.fails_with(
        "update rewriting the creation",
        repo.update_referral(&rewritten, 2).await,
        Kind::AlreadyExists(Entity::Referral, key.to_string()),
    )?;
    let ghost = ReferralKey { campaign: key.campaign.clone(), referred: c.contact("ghost")? };
    c.fails_with(
        "load_referral of an unknown key",
        repo.load_referral(&ghost).await,
        Kind::NotFound(Entity::Referral, ghost.to_string()),
    )?;
    c.fails_with(
        "update of an unknown referral",
        repo.update_referral(&c.referral("ada", "ghost", "spring", 0)?, 1).await,
        Kind::NotFound(Entity::Referral, ghost.to_string()),
    )
}

/// An advocate's referrals come by creation time (inactive ones included); every
/// referral streams in key order, page by page.
pub async fn referral_queries_ordered<R: InteractionRepository>(repo: &R) -> Outcome {
    let c = Check("referral_queries_ordered");
    let mut made = vec![
        c.referral("ada", "cyd", "autumn", 30)?,
        c.referral("ada", "bob", "spring", 10)?,
        c.referral("eve", "bob", "autumn", 20)?,
        c.referral("ada", "dan", "spring", 20)?,
    ];
    for referral in &made {
        c.ok("insert referral", repo.insert_referral(referral).await)?;
    }
    c.fixture(made[3].deactivate(at(40), None))?;
    c.ok("deactivate ada → dan", repo.update_referral(&made[3], 1).await)?;
    let keys = |referrals: &[Referral]| referrals.iter().map(|r| r.key().to_string()).collect::<Vec<_>>();
    let ada = c.ok("advocate_referrals ada", repo.advocate_referrals(&c.contact("ada")?).await)?;
    c.equal(
        "ada's referrals by creation time",
        &keys(&ada),
        &keys(&[made[1].clone(), made[3].clone(), made[0].clone()]),
    )?;
    let none = c.ok("advocate_referrals bob", repo.advocate_referrals(&c.contact("bob")?).await)?;
    c.equal("referrals of a contact who made none", &none, &vec![])?;
    let mut paged = Vec::new();
    let mut after: Option<ReferralKey> = None;
    loop {
        let page = c.ok("referrals page", repo.referrals(after.as_ref(), 3).await)?;
        let Some(last) = page.last() else { break };
        after = Some(last.key());
        paged.extend(page);
    }
    made.sort_by_key(Referral::key);
    c.equal("every referral in key order, in pages of 3", &paged, &made)
}

/// Writers deactivating one referral at the same expected version: exactly one wins,
/// the others get `Conflict`.
pub async fn concurrent_referral_updates_serialize<R: InteractionRepository>(
    repo: &R,
    concurrency: Concurrency,
) -> Outcome {
    let c = Check("concurrent_referral_updates_serialize");
    let created = c.referral("ada", "bob", "spring", 0)?;
    c.ok("insert referral", repo.insert_referral(&created).await)?;
    let mut racing: Vec<Task<'_, Result<(), RepositoryError>>> = Vec::new();
    for i in 0..concurrency.writers() {
        let mut mine = created.clone();
        let note = c.fixture(format!("writer {i}").parse())?;
        c.fixture(mine.deactivate(at(10 + i as i64), Some(note)))?;
        racing.push(Box::pin(async move { repo.update_referral(&mine, 1).await }));
    }
    let mut wins = 0;
    for result in run_writers(c, concurrency, racing).await? {
        match result {
            Ok(()) => wins += 1,
            Err(RepositoryError::Conflict { expected: 1, actual: 2, .. }) => {}
            Err(e) => return Err(c.fail(format!("a racing update failed with `{}`: {e}", e.code()))),
        }
    }
    c.equal("updates that won the race", &wins, &1)?;
    let loaded = c.ok("load_referral", repo.load_referral(&created.key()).await)?;
    c.equal("version after the race", &loaded.version(), &2)
}
