//! Breakdowns: any query split by a dimension of the contacts.
//!
//! A breakdown is a list of segments (a key and a [`ContactSet`]) and a query run once
//! per segment. Transition-level dimensions become contact-level by the contact's
//! entry into the journey: "by source" groups contacts by the source kind of the
//! transition that brought them in, "by channel" by its touchpoint channel. (Moves
//! themselves split by source with [`JourneyLog::flows_by_source`].)

use super::Scope;
use super::contacts::{ContactSet, ContactTable};
use super::log::{JourneyLog, NO_CHANNEL, TransitionLog, source_from_code};
use crate::model::contact::Contact;
use crate::model::ids::ChannelKey;
use crate::model::transition::SourceKind;
use crate::model::value::Value;

/// Contacts split by a key, one [`ContactSet`] per distinct key, in order of first
/// sight.
#[derive(Clone, Debug, PartialEq)]
pub struct Segments<K> {
    /// The key of each segment and its contacts.
    pub segments: Vec<(K, ContactSet)>,
}

impl<K: PartialEq> Segments<K> {
    pub(crate) fn from_keys(keys: impl IntoIterator<Item = (super::ContactRef, K)>) -> Self {
        let mut segments: Vec<(K, ContactSet)> = Vec::new();
        for (contact, key) in keys {
            match segments.iter_mut().find(|(k, _)| *k == key) {
                Some((_, set)) => set.insert(contact),
                None => {
                    let mut set = ContactSet::default();
                    set.insert(contact);
                    segments.push((key, set));
                }
            }
        }
        Segments { segments }
    }
}

impl Segments<SourceKind> {
    /// Members of `journey` by the source kind of their entry transition.
    pub fn by_entry_source(journey: &JourneyLog) -> Self {
        Segments::from_keys(
            journey.groups().map(|g| (g.contact(journey), source_from_code(journey.source[g.start]))),
        )
    }
}

impl Segments<Option<ChannelKey>> {
    /// Members of `journey` (a journey of `log`) by the touchpoint channel of their
    /// entry transition (`None`: no touchpoint).
    pub fn by_entry_channel(log: &TransitionLog, journey: &JourneyLog) -> Self {
        Segments::from_keys(journey.groups().map(|g| {
            let code = journey.channel[g.start];
            let channel =
                (code != NO_CHANNEL).then(|| log.channels.get(usize::from(code) - 1).cloned()).flatten();
            (g.contact(journey), channel)
        }))
    }
}

impl Segments<Option<Value>> {
    /// The contacts of `table` by the value of their attribute `key` (`None`: no
    /// such attribute, or no record among `contacts`).
    pub fn by_attribute<'c>(
        table: &ContactTable,
        contacts: impl IntoIterator<Item = &'c Contact>,
        key: &str,
    ) -> Self {
        let mut values: Vec<Option<&Value>> = vec![None; table.len()];
        for contact in contacts {
            if let Some(c) = table.get(contact.id.as_str()) {
                values[c.index()] = contact.attribute(key);
            }
        }
        Segments::from_keys(table.iter().map(|(c, _)| (c, values[c.index()].cloned())))
    }
}

/// Runs `query` once per segment, each restricted to the segment (and to the
/// scope's own segment, if it has one).
///
/// ```
/// use journeys::analytics::{Scope, Segments, TransitionLog, breakdown};
/// use journeys::{Journey, SequencePolicy, SourceKind, Stage};
/// let csv = "contact_id,journey,from_stage,to_stage,at,source\n\
///            c1,referral,,lead,2026-01-05T13:04:11Z,import\n\
///            c2,referral,,lead,2026-01-06T09:00:00Z,manual\n\
///            c1,referral,lead,trial,2026-01-09T08:00:00Z,manual\n";
/// let referral = Journey::new("referral", "Referral", SequencePolicy::AnyOrder,
///     [Stage::new("lead", "Lead")?, Stage::new("trial", "Trial")?])?;
/// let log = TransitionLog::read_csv(csv.as_bytes(), [referral], 0)?;
/// let referral = log.journey("referral").unwrap();
/// let by_source = breakdown(&Segments::by_entry_source(referral), Scope::all(),
///     |scope| referral.current_stage_counts(scope));
/// assert_eq!(by_source[0].0, SourceKind::Import);
/// assert_eq!(by_source[0].1.get("trial"), Some(1));
/// assert_eq!(by_source[1].1.get("lead"), Some(1));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn breakdown<K: Clone, R>(
    segments: &Segments<K>,
    scope: Scope<'_>,
    mut query: impl FnMut(Scope<'_>) -> R,
) -> Vec<(K, R)> {
    segments
        .segments
        .iter()
        .map(|(key, set)| {
            let result = match scope.segment {
                Some(outer) => {
                    let both = set.intersection(outer);
                    query(scope.segment(&both))
                }
                None => query(scope.segment(set)),
            };
            (key.clone(), result)
        })
        .collect()
}
