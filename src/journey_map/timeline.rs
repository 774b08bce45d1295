//! Per-contact timelines: each touchpoint with the stage the contact was in.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::log::{InteractionLog, StageCursor, instant};
use crate::model::ids::{
    ChannelKey, ContactId, DepartmentKey, DeviceKey, InteractionKey, OutcomeKey, StageKey, TouchpointId,
};

/// One touchpoint of a contact's timeline: `contact | touchpoint | interaction type |
/// outcome`, with the stage at that moment.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct TimelineRow {
    /// The contact.
    pub contact: ContactId,
    /// The touchpoint.
    pub touchpoint: TouchpointId,
    /// When it happened.
    pub at: DateTime<Utc>,
    /// Its channel.
    pub channel: ChannelKey,
    /// Its device, if known.
    pub device: Option<DeviceKey>,
    /// Its department, if any.
    pub department: Option<DepartmentKey>,
    /// The interaction type.
    pub interaction: InteractionKey,
    /// The outcome, if recorded.
    pub outcome: Option<OutcomeKey>,
    /// The sentiment, if measured.
    pub sentiment: Option<f64>,
    /// The stage the contact was in (`None`: not in the journey yet). A move at the
    /// touchpoint's instant counts as after it.
    pub stage: Option<StageKey>,
}

impl InteractionLog {
    /// `contact`'s touchpoints in time order with the stage at each (empty for a
    /// contact not in the log).
    ///
    /// ```
    /// use journeys::journey_map::InteractionLog;
    /// use journeys::{Journey, Move, SequencePolicy, Source, Stage, Touchpoint, decide};
    /// let journey = Journey::new("j", "J", SequencePolicy::AnyOrder, [Stage::new("lead", "Lead")?])?;
    /// let at = |m: i64| chrono::DateTime::UNIX_EPOCH + chrono::Duration::minutes(m);
    /// let entry = decide(&journey, None, &Move::to_stage("ada".parse()?, "lead".parse()?, at(10), Source::manual("me".parse()?)))?;
    /// let tp = |id: &str, m| Touchpoint::new(id.parse().unwrap(), "ada".parse().unwrap(), at(m), "web".parse().unwrap(), "visit".parse().unwrap());
    /// let log = InteractionLog::new(&journey, [&entry], [&tp("t1", 0), &tp("t2", 20)])?;
    /// let stages: Vec<_> = log.timeline(&"ada".parse()?).into_iter().map(|r| r.stage).collect();
    /// assert_eq!(stages, [None, Some("lead".parse()?)]);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn timeline(&self, contact: &ContactId) -> Vec<TimelineRow> {
        let Some(c) = self.contacts.get(contact.as_str()) else {
            return Vec::new();
        };
        let c = c.index();
        let mut cursor = StageCursor::new(self, c);
        let tp = &self.tp;
        self.touchpoints_of(c)
            .filter_map(|i| {
                while cursor.move_before(tp.at[i]).is_some() {}
                Some(TimelineRow {
                    contact: contact.clone(),
                    touchpoint: tp.id[i].clone(),
                    at: instant(tp.at[i]),
                    channel: self.channels.get(tp.channel[i])?.clone(),
                    device: self.devices.get(tp.device[i]).cloned(),
                    department: self.departments.get(tp.department[i]).cloned(),
                    interaction: self.interactions.get(tp.interaction[i])?.clone(),
                    outcome: self.outcomes.get(tp.outcome[i]).cloned(),
                    sentiment: tp.sentiment(i),
                    stage: self.stage_key(cursor.stage).cloned(),
                })
            })
            .collect()
    }
}
