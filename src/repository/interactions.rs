//! [`InteractionRepository`]: where touchpoints and referrals are stored.
//!
//! A trait of its own rather than more methods on [`Repository`](super::Repository):
//! adding required methods to `Repository` would break every backend (and every
//! wrapper around one) that exists, for hosts that may not record touchpoints at all.
//! A backend opts in by implementing this trait too — `InMemoryRepository` does — and
//! a host may keep interactions in another store than its journeys.

use std::future::Future;

use crate::error::RepositoryError;
use crate::model::ids::ContactId;
use crate::model::referral::{Referral, ReferralKey};
use crate::model::touchpoint::{Touchpoint, TouchpointPosition};

/// Where touchpoints and referrals are stored.
///
/// # Contract
///
/// Every backend gives these guarantees; `journeys::conformance::run_interaction_checks`
/// checks each of them.
///
/// - **Touchpoints** are append-only. [`append_touchpoints`](Self::append_touchpoints)
///   is atomic: every touchpoint is stored or none is. A touchpoint whose id is stored
///   with an identical value is skipped (a retry is safe); one whose id is stored with
///   another value fails the whole call with `AlreadyExists` (entity `Touchpoint`).
/// - [`touchpoints`](Self::touchpoints) streams every touchpoint in
///   [`TouchpointPosition`] order (`occurred_at`, then id), at most `limit` after the
///   given position, including those appended late with an early `occurred_at`;
///   [`contact_touchpoints`](Self::contact_touchpoints) returns one contact's in the
///   same order (empty for a contact with none).
/// - **Referrals** are permanent: there is no delete. A referral's version is its
///   number of changes. [`insert_referral`](Self::insert_referral) of a stored key
///   succeeds if the value is identical and fails with `AlreadyExists` otherwise.
///   [`update_referral`](Self::update_referral) fails, writing nothing, with
///   `NotFound` for an unknown key, `Conflict { expected, actual }` when the stored
///   version is not `expected_version`, and `AlreadyExists` when the new value does
///   not [extend](Referral::extends) the stored one (same advocate, the stored changes
///   as its prefix, at least one more).
/// - [`load_referral`](Self::load_referral) of an unknown key fails with `NotFound`;
///   [`advocate_referrals`](Self::advocate_referrals) lists an advocate's referrals
///   (active or not) by creation time, then key; [`referrals`](Self::referrals) streams
///   every referral in [`ReferralKey`] order, at most `limit` after the given key.
/// - Concurrent calls behave as if applied one after another; a backend never panics
///   on stored data.
pub trait InteractionRepository: Send + Sync {
    /// Appends touchpoints atomically; already stored identical ones are skipped.
    fn append_touchpoints(
        &self,
        touchpoints: &[Touchpoint],
    ) -> impl Future<Output = Result<(), RepositoryError>> + Send;

    /// Up to `limit` touchpoints after `after` (from the start when `None`), in time
    /// order.
    fn touchpoints(
        &self,
        after: Option<&TouchpointPosition>,
        limit: usize,
    ) -> impl Future<Output = Result<Vec<Touchpoint>, RepositoryError>> + Send;

    /// One contact's touchpoints in time order.
    fn contact_touchpoints(
        &self,
        contact: &ContactId,
    ) -> impl Future<Output = Result<Vec<Touchpoint>, RepositoryError>> + Send;

    /// Stores a new referral.
    fn insert_referral(
        &self,
        referral: &Referral,
    ) -> impl Future<Output = Result<(), RepositoryError>> + Send;

    /// Stores a referral's new changes, if it is still at `expected_version`.
    fn update_referral(
        &self,
        referral: &Referral,
        expected_version: u64,
    ) -> impl Future<Output = Result<(), RepositoryError>> + Send;

    /// The referral of `key.referred` for `key.campaign`: who the contact's advocate is.
    fn load_referral(
        &self,
        key: &ReferralKey,
    ) -> impl Future<Output = Result<Referral, RepositoryError>> + Send;

    /// Every referral `advocate` made, by creation time.
    fn advocate_referrals(
        &self,
        advocate: &ContactId,
    ) -> impl Future<Output = Result<Vec<Referral>, RepositoryError>> + Send;

    /// Up to `limit` referrals after `after` (from the start when `None`), in key order.
    fn referrals(
        &self,
        after: Option<&ReferralKey>,
        limit: usize,
    ) -> impl Future<Output = Result<Vec<Referral>, RepositoryError>> + Send;
}
