//! Dashboard analytics: pure functions over a journey definition, its transitions and
//! an as-of instant.
//!
//! Transitions are first put in a compact columnar [`TransitionLog`] (built from crate
//! [`Transition`](crate::Transition)s by [`LogBuilder`], or read from the transitions
//! CSV format by [`TransitionLog::read_csv`]); every query is then a method of one
//! journey's [`JourneyLog`] taking a [`Scope`] — the as-of instant and an optional
//! segment ([`ContactSet`]).
//!
//! ```
//! use journeys::analytics::{Scope, TransitionLog};
//! use journeys::{Journey, SequencePolicy, Stage};
//! let csv = "contact_id,journey,from_stage,to_stage,at,source\n\
//!            c1,referral,,lead,2026-01-05T13:04:11Z,import\n\
//!            c2,referral,,lead,2026-01-06T09:00:00Z,import\n\
//!            c1,referral,lead,trial,2026-01-09T08:00:00Z,manual\n";
//! let referral = Journey::new("referral", "Referral", SequencePolicy::AnyOrder,
//!     [Stage::new("lead", "Lead")?, Stage::new("trial", "Trial")?])?;
//! let log = TransitionLog::read_csv(csv.as_bytes(), [referral], 0)?;
//! let referral = log.journey("referral").unwrap();
//!
//! let now = referral.current_stage_counts(Scope::all());
//! assert_eq!((now.get("lead"), now.get("trial")), (Some(1), Some(1)));
//! let before = referral.current_stage_counts(Scope::all().as_of("2026-01-08T00:00:00Z".parse()?));
//! assert_eq!((before.get("lead"), before.get("trial")), (Some(2), Some(0)));
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! # Semantics shared by every query
//! - **As of `T`**: transitions dated after `T` are ignored; one dated exactly `T`
//!   counts. A contact's *current stage* is the stage its latest counted transition
//!   entered.
//! - **Segments**: a query restricted to a [`ContactSet`] sees only those contacts,
//!   all their transitions.
//! - **Merging**: every result has a `merge` that adds the result of a disjoint set
//!   of contacts (another shard's log, or another segment), giving what the query
//!   over both sets gives.
//! - **Exit stages** ([`Stage::is_exit`](crate::Stage::is_exit)) are reported apart
//!   from the funnel steps; *terminal* stages (exits, stages with an outcome, and
//!   those the journey's policy makes terminal) never stall.

mod breakdown;
mod contacts;
mod csv_log;
mod dwell;
mod flows;
mod funnel;
mod live;
mod log;
mod names;
mod population;
mod stages;

use std::ops::Range;

use chrono::{DateTime, Utc};

pub use breakdown::{Segments, breakdown};
pub use contacts::{ContactRef, ContactSet, ContactTable};
pub use csv_log::LoadError;
pub use dwell::{Conversion, Durations, DwellSummary, TimeInStage, TimeInStageSummary};
pub use flows::{FlowKind, Flows};
pub use funnel::{FunnelMode, FunnelSpec, Step, WindowFunnel};
pub use live::LiveIndex;
pub use log::{JourneyLog, LogBuilder, TransitionLog};
pub use population::{Buckets, Granularity, Population};
pub use stages::{Reach, ReachRow, StageCounts, StallThresholds, StalledContact, StalledCounts};

use crate::error::DomainError;
use crate::model::ids::StageKey;
use crate::model::journey::Journey;
use log::Group;

/// What a query looks at: transitions up to an instant, of a segment of contacts.
///
/// `Scope::all()` is every transition of every contact.
#[derive(Clone, Copy, Debug, Default)]
pub struct Scope<'a> {
    as_of: Option<DateTime<Utc>>,
    segment: Option<&'a ContactSet>,
}

impl<'a> Scope<'a> {
    /// Every transition of every contact.
    pub fn all() -> Self {
        Scope::default()
    }

    /// Only transitions dated at or before `at`.
    #[must_use]
    pub fn as_of(mut self, at: DateTime<Utc>) -> Self {
        self.as_of = Some(at);
        self
    }

    /// Only the contacts in `segment`.
    #[must_use]
    pub fn segment(mut self, segment: &'a ContactSet) -> Self {
        self.segment = Some(segment);
        self
    }

    /// The as-of instant, if any.
    pub fn instant(&self) -> Option<DateTime<Utc>> {
        self.as_of
    }

    /// The segment the scope is restricted to, if any.
    pub fn contacts(&self) -> Option<&'a ContactSet> {
        self.segment
    }
}

impl JourneyLog {
    /// The members in `scope`, each cut to its transitions at or before the as-of
    /// instant; members with none left are skipped.
    #[inline]
    pub(crate) fn visible<'s>(&'s self, scope: Scope<'s>) -> Visible<'s> {
        let limit = scope.as_of.map(|t| self.rel(t)).filter(|&limit| limit < i64::from(self.last));
        Visible {
            log: self,
            member: 0,
            filtered: limit.is_some() || scope.segment.is_some(),
            limit,
            segment: scope.segment,
        }
    }

    /// The transitions in `scope` as runs of whole groups, for the queries written as
    /// one flat loop over the columns: the whole log when nothing is filtered, else
    /// each visible group alone (cut at the as-of instant). Within a run a group
    /// starts at each transition that [`opens`](JourneyLog::opens) one, and the run's
    /// end closes its last group.
    pub(crate) fn runs<'s>(&'s self, scope: Scope<'s>) -> impl Iterator<Item = Range<usize>> + 's {
        let groups = self.visible(scope);
        let (whole, groups) =
            if groups.filtered { (None, Some(groups)) } else { (Some(0..self.len()), None) };
        whole.into_iter().chain(groups.into_iter().flatten().map(|g| g.start..g.end))
    }

    /// The stage keys in order.
    pub(crate) fn stage_keys(&self) -> Vec<StageKey> {
        self.journey.stages().map(|s| s.key().clone()).collect()
    }

    /// The index of stage `key`.
    pub(crate) fn stage_index_of(&self, key: &str) -> Result<usize, DomainError> {
        stage_index(&self.journey, key)
    }
}

/// The iterator of [`JourneyLog::visible`].
pub(crate) struct Visible<'a> {
    log: &'a JourneyLog,
    member: usize,
    /// Whether a segment or an as-of instant before the last transition applies.
    filtered: bool,
    limit: Option<i64>,
    segment: Option<&'a ContactSet>,
}

impl Iterator for Visible<'_> {
    type Item = Group;

    #[inline(always)]
    fn next(&mut self) -> Option<Group> {
        let log = self.log;
        while self.member + 1 < log.starts.len() {
            let member = self.member;
            self.member += 1;
            let start = log.starts[member] as usize;
            let mut end = log.starts[member + 1] as usize;
            if self.filtered {
                if self.segment.is_some_and(|set| !set.contains(ContactRef(log.contact[member]))) {
                    continue;
                }
                if let Some(limit) = self.limit {
                    if i64::from(log.at[end - 1]) > limit {
                        end = start + log.at[start..end].partition_point(|&t| i64::from(t) <= limit);
                    }
                    if end == start {
                        continue;
                    }
                }
            }
            return Some(Group { member, start, end });
        }
        None
    }
}

/// `yes` when `flag`, else `no`, without a branch: for a flag the CPU cannot predict,
/// such as whether a transition opens a group (the compiler turns a plain `if` into a
/// branch). Written as a pick from a pair, which the compiler turns into one
/// conditional move, where masking took five instructions.
#[inline(always)]
fn either(flag: bool, yes: usize, no: usize) -> usize {
    [no, yes][usize::from(flag)]
}

fn stage_index(journey: &Journey, key: &str) -> Result<usize, DomainError> {
    journey
        .stage_index(key)
        .ok_or_else(|| DomainError::UnknownStage { journey: journey.id().clone(), stage: key.to_owned() })
}

/// Checks that two results being merged are about the same stages.
fn same_stages(mine: &[StageKey], theirs: &[StageKey]) -> Result<(), DomainError> {
    if mine == theirs {
        Ok(())
    } else {
        Err(DomainError::InvalidValue {
            field: "stages",
            value: theirs.iter().map(StageKey::as_str).collect::<Vec<_>>().join(","),
            reason: "results of different journeys cannot be merged",
        })
    }
}

/// Adds `theirs` into `mine` element by element.
fn add_into(mine: &mut [u64], theirs: &[u64]) {
    for (m, t) in mine.iter_mut().zip(theirs) {
        *m += t;
    }
}
