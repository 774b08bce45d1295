//! Referral attribution: which advocate brought which contact, per campaign.
//!
//! A referral is permanent once created: it is deactivated (and may be reactivated),
//! never deleted, and every change is kept in its change log.

use std::fmt;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::ids::{CampaignId, ContactId, Note};
use crate::error::DomainError;

/// Most changes one referral's log may hold: a referral toggled more often than this
/// is a bug in the host, not a history worth keeping.
pub const MAX_REFERRAL_CHANGES: usize = 1024;

/// Whether a referral counts.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ReferralStatus {
    /// The referral counts for its advocate.
    Active,
    /// The referral was withdrawn; it is kept, and no longer counts.
    Deactivated,
}

impl ReferralStatus {
    /// The status's key: `active` or `deactivated`.
    pub fn as_str(self) -> &'static str {
        match self {
            ReferralStatus::Active => "active",
            ReferralStatus::Deactivated => "deactivated",
        }
    }
}

impl fmt::Display for ReferralStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One entry of a referral's change log: the status it took, when, and why.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReferralChange {
    /// When the change happened.
    pub at: DateTime<Utc>,
    /// The status from then on.
    pub status: ReferralStatus,
    /// Why, if the host said.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub note: Option<Note>,
}

/// What identifies a referral: a contact is referred at most once per campaign.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct ReferralKey {
    /// The campaign.
    pub campaign: CampaignId,
    /// The contact who was referred.
    pub referred: ContactId,
}

impl fmt::Display for ReferralKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.campaign, self.referred)
    }
}

/// An advocate referred a contact for a campaign.
///
/// Always valid: the advocate is not the referred contact, the change log starts with
/// the creation (status `active`), every later change flips the status, and changes
/// are in time order. Deserializing checks the same. The status is the last change's;
/// the version (for optimistic concurrency in storage) is the number of changes.
///
/// ```
/// use journeys::{Referral, ReferralStatus};
/// let created = "2026-01-05T09:00:00Z".parse()?;
/// let mut referral = Referral::new("ada".parse()?, "bob".parse()?, "spring".parse()?, created)?;
/// assert!(referral.is_active());
/// referral.deactivate("2026-01-09T09:00:00Z".parse()?, Some("duplicate account".parse()?))?;
/// assert_eq!(referral.status(), ReferralStatus::Deactivated);
/// assert_eq!((referral.version(), referral.created_at()), (2, created));
/// // Deactivating twice is refused: nothing changed.
/// assert!(referral.deactivate("2026-01-10T09:00:00Z".parse()?, None).is_err());
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "ReferralRecord", into = "ReferralRecord")]
pub struct Referral {
    advocate: ContactId,
    referred: ContactId,
    campaign: CampaignId,
    changes: Vec<ReferralChange>,
}

/// The wire form, checked into a [`Referral`].
#[derive(Serialize, Deserialize)]
struct ReferralRecord {
    advocate: ContactId,
    referred: ContactId,
    campaign: CampaignId,
    changes: Vec<ReferralChange>,
}

impl TryFrom<ReferralRecord> for Referral {
    type Error = DomainError;
    fn try_from(r: ReferralRecord) -> Result<Self, DomainError> {
        Referral::from_parts(r.advocate, r.referred, r.campaign, r.changes)
    }
}

impl From<Referral> for ReferralRecord {
    fn from(r: Referral) -> Self {
        ReferralRecord {
            advocate: r.advocate,
            referred: r.referred,
            campaign: r.campaign,
            changes: r.changes,
        }
    }
}

impl Referral {
    /// An active referral created at `at`.
    ///
    /// # Errors
    /// [`DomainError::InvalidReferral`] when `advocate` and `referred` are the same
    /// contact.
    pub fn new(
        advocate: ContactId,
        referred: ContactId,
        campaign: CampaignId,
        at: DateTime<Utc>,
    ) -> Result<Self, DomainError> {
        let created = ReferralChange { at, status: ReferralStatus::Active, note: None };
        Referral::from_parts(advocate, referred, campaign, vec![created])
    }

    /// A referral from stored parts, checked as described on the type.
    ///
    /// # Errors
    /// [`DomainError::InvalidReferral`] naming what is wrong.
    pub fn from_parts(
        advocate: ContactId,
        referred: ContactId,
        campaign: CampaignId,
        changes: Vec<ReferralChange>,
    ) -> Result<Self, DomainError> {
        let referral = Referral { advocate, referred, campaign, changes };
        let problem = if referral.advocate == referral.referred {
            Some("a contact cannot refer itself")
        } else if referral.changes.first().is_none_or(|c| c.status != ReferralStatus::Active) {
            Some("the change log must start with the creation, as active")
        } else if referral.changes.len() > MAX_REFERRAL_CHANGES {
            Some("the change log is too long")
        } else if referral.changes.windows(2).any(|w| w[1].at < w[0].at) {
            Some("changes must be in time order")
        } else if referral.changes.windows(2).any(|w| w[1].status == w[0].status) {
            Some("every change must flip the status")
        } else {
            None
        };
        match problem {
            Some(reason) => Err(referral.invalid(reason)),
            None => Ok(referral),
        }
    }

    fn invalid(&self, reason: &'static str) -> DomainError {
        DomainError::InvalidReferral {
            campaign: self.campaign.clone(),
            referred: self.referred.clone(),
            reason,
        }
    }

    /// Withdraws the referral at `at`; it stays stored and in the log.
    ///
    /// # Errors
    /// [`DomainError::InvalidReferral`] when it is already deactivated, `at` is before
    /// its last change, or the log is full; nothing changes then.
    pub fn deactivate(&mut self, at: DateTime<Utc>, note: Option<Note>) -> Result<(), DomainError> {
        self.change(ReferralStatus::Deactivated, at, note)
    }

    /// Makes a deactivated referral count again at `at`.
    ///
    /// # Errors
    /// As [`deactivate`](Self::deactivate), when it is already active.
    pub fn reactivate(&mut self, at: DateTime<Utc>, note: Option<Note>) -> Result<(), DomainError> {
        self.change(ReferralStatus::Active, at, note)
    }

    fn change(
        &mut self,
        status: ReferralStatus,
        at: DateTime<Utc>,
        note: Option<Note>,
    ) -> Result<(), DomainError> {
        let last = self.last_change();
        if last.status == status {
            return Err(self.invalid(match status {
                ReferralStatus::Active => "the referral is already active",
                ReferralStatus::Deactivated => "the referral is already deactivated",
            }));
        }
        if at < last.at {
            return Err(self.invalid("a change cannot be earlier than the last one"));
        }
        if self.changes.len() >= MAX_REFERRAL_CHANGES {
            return Err(self.invalid("the change log is too long"));
        }
        self.changes.push(ReferralChange { at, status, note });
        Ok(())
    }

    fn last_change(&self) -> &ReferralChange {
        // Construction and deserialization refuse an empty log.
        &self.changes[self.changes.len() - 1]
    }

    /// The advocate who referred.
    pub fn advocate(&self) -> &ContactId {
        &self.advocate
    }

    /// The contact who was referred.
    pub fn referred(&self) -> &ContactId {
        &self.referred
    }

    /// The campaign.
    pub fn campaign(&self) -> &CampaignId {
        &self.campaign
    }

    /// The key that identifies it: campaign and referred contact.
    pub fn key(&self) -> ReferralKey {
        ReferralKey { campaign: self.campaign.clone(), referred: self.referred.clone() }
    }

    /// When it was created.
    pub fn created_at(&self) -> DateTime<Utc> {
        self.changes[0].at
    }

    /// The current status: the last change's.
    pub fn status(&self) -> ReferralStatus {
        self.last_change().status
    }

    /// Whether it counts now.
    pub fn is_active(&self) -> bool {
        self.status() == ReferralStatus::Active
    }

    /// Every change, the creation first.
    pub fn changes(&self) -> &[ReferralChange] {
        &self.changes
    }

    /// The number of changes: 1 when created, +1 per change.
    pub fn version(&self) -> u64 {
        self.changes.len() as u64
    }

    /// Whether `self` is `earlier` with more changes appended: the only way a stored
    /// referral may change.
    pub fn extends(&self, earlier: &Referral) -> bool {
        self.advocate == earlier.advocate
            && self.key() == earlier.key()
            && self.changes.len() > earlier.changes.len()
            && self.changes.starts_with(&earlier.changes)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(day: u32) -> DateTime<Utc> {
        format!("2026-01-{day:02}T09:00:00Z").parse().unwrap()
    }

    fn referral() -> Referral {
        Referral::new("ada".parse().unwrap(), "bob".parse().unwrap(), "spring".parse().unwrap(), at(5))
            .unwrap()
    }

    #[test]
    fn a_contact_cannot_refer_itself() {
        let err =
            Referral::new("ada".parse().unwrap(), "ada".parse().unwrap(), "spring".parse().unwrap(), at(5))
                .unwrap_err();
        assert_eq!(err.code(), "invalid_referral");
    }

    #[test]
    fn changes_flip_the_status_in_time_order_and_are_logged() {
        let mut r = referral();
        assert!(r.reactivate(at(6), None).is_err(), "already active");
        r.deactivate(at(7), None).unwrap();
        assert!(r.reactivate(at(6), None).is_err(), "earlier than the last change");
        let before = r.clone();
        assert!(r.deactivate(at(8), None).is_err());
        assert_eq!(r, before, "a refused change changes nothing");
        r.reactivate(at(8), None).unwrap();
        let statuses: Vec<_> = r.changes().iter().map(|c| c.status).collect();
        assert_eq!(statuses, [ReferralStatus::Active, ReferralStatus::Deactivated, ReferralStatus::Active]);
        assert!(r.extends(&before) && !before.extends(&r) && !r.extends(&r));
    }

    #[test]
    fn deserializing_checks_the_log() {
        let r = referral();
        let json = serde_json::to_string(&r).unwrap();
        assert_eq!(serde_json::from_str::<Referral>(&json).unwrap(), r);
        let no_log = r#"{"advocate":"ada","referred":"bob","campaign":"spring","changes":[]}"#;
        assert!(serde_json::from_str::<Referral>(no_log).is_err());
        let repeated = r#"{"advocate":"ada","referred":"bob","campaign":"spring","changes":[
            {"at":"2026-01-05T09:00:00Z","status":"active"},{"at":"2026-01-06T09:00:00Z","status":"active"}]}"#;
        assert!(serde_json::from_str::<Referral>(repeated).is_err());
        let backwards = r#"{"advocate":"ada","referred":"bob","campaign":"spring","changes":[
            {"at":"2026-01-05T09:00:00Z","status":"active"},{"at":"2026-01-04T09:00:00Z","status":"deactivated"}]}"#;
        assert!(serde_json::from_str::<Referral>(backwards).is_err());
    }
}
