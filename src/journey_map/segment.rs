//! Which contacts a report counts: everyone, or the members of a segment.

use super::log::InteractionLog;
use crate::model::ids::{ContactId, Name};

/// The contacts of an [`InteractionLog`] a report counts.
///
/// ```
/// use journeys::journey_map::{ContactFilter, InteractionLog};
/// use journeys::{Journey, SequencePolicy, Stage, Touchpoint};
/// let journey = Journey::new("j", "J", SequencePolicy::AnyOrder, [Stage::new("lead", "Lead")?])?;
/// let at = "2026-01-05T09:00:00Z".parse()?;
/// let tp = |id: &str, who: &str| Touchpoint::new(id.parse().unwrap(), who.parse().unwrap(), at, "web".parse().unwrap(), "visit".parse().unwrap());
/// let log = InteractionLog::new(&journey, [], [&tp("t1", "ada"), &tp("t2", "bob")])?;
/// let only_ada = ContactFilter::from_fn(&log, "ada only".parse()?, |id| id == "ada");
/// assert!(only_ada.keeps_contact(&log, &"ada".parse()?) && !only_ada.keeps_contact(&log, &"bob".parse()?));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ContactFilter {
    /// `None`: every contact.
    keep: Option<Vec<bool>>,
    name: Option<Name>,
}

impl ContactFilter {
    /// Every contact.
    pub fn all() -> Self {
        ContactFilter { keep: None, name: None }
    }

    /// The contacts of `log` for which `keep` says yes, named `name`.
    pub fn from_fn(log: &InteractionLog, name: Name, mut keep: impl FnMut(&ContactId) -> bool) -> Self {
        ContactFilter { keep: Some(log.contacts.iter().map(&mut keep).collect()), name: Some(name) }
    }

    /// Whether contact index `c` counts.
    pub(super) fn keeps(&self, c: usize) -> bool {
        self.keep.as_ref().is_none_or(|keep| keep.get(c).copied().unwrap_or(false))
    }

    /// The segment's name, if this is one.
    pub fn segment_name(&self) -> Option<&Name> {
        self.name.as_ref()
    }

    /// Whether `contact` of `log` counts (a contact not in the log does not).
    pub fn keeps_contact(&self, log: &InteractionLog, contact: &ContactId) -> bool {
        log.contact_index.get(contact).is_some_and(|&c| self.keeps(c as usize))
    }
}
