//! Transitions: the append-only record of every move.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::ids::{
    ActorId, BatchId, ChannelKey, ContactId, IdempotencyKey, InteractionKey, JourneyId, Note, ReasonKey,
    RuleId, StageKey,
};

/// Who or what made a move (rule 7).
///
/// In JSON: `{"kind": "manual", "actor": "ada"}`, `{"kind": "automation", "rule":
/// "demo-booked"}`, `{"kind": "import", "batch": "2026-01.csv", "line": 12}`,
/// `{"kind": "system", "reason": "enrollment_status"}`.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
#[non_exhaustive]
pub enum Source {
    /// An automation rule fired.
    Automation {
        /// The rule.
        rule: RuleId,
    },
    /// A row of a bulk import.
    Import {
        /// The import batch.
        batch: BatchId,
        /// The line of the file the row came from (1 is the header).
        line: u64,
        /// The kind of source the row itself named (its `source` column), for data
        /// back-filled from another system: a manual move recorded elsewhere stays a
        /// manual move in breakdowns. `None` when the row named none.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        origin: Option<SourceKind>,
    },
    /// A person moved the contact by hand.
    Manual {
        /// Who.
        actor: ActorId,
    },
    /// The system itself, for the reason given.
    System {
        /// Why, such as `enrollment_status`.
        reason: ReasonKey,
    },
}

/// The kind of a [`Source`], as the `source` column of the CSV format names it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum SourceKind {
    /// An automation rule.
    Automation,
    /// A bulk import.
    Import,
    /// A person.
    Manual,
    /// The system itself.
    System,
}

impl SourceKind {
    /// Every kind.
    pub const ALL: [SourceKind; 4] =
        [SourceKind::Automation, SourceKind::Import, SourceKind::Manual, SourceKind::System];

    /// The kind's key: `automation`, `import`, `manual` or `system`.
    pub fn as_str(self) -> &'static str {
        match self {
            SourceKind::Automation => "automation",
            SourceKind::Import => "import",
            SourceKind::Manual => "manual",
            SourceKind::System => "system",
        }
    }

    /// The kind whose key is `key`, if any.
    pub fn from_key(key: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|k| k.as_str() == key)
    }
}

/// The reason the system journey moves: the contact's enrollment status changed.
pub const ENROLLMENT_STATUS_REASON: &str = "enrollment_status";

impl Source {
    /// A manual move by `actor`.
    pub fn manual(actor: ActorId) -> Self {
        Source::Manual { actor }
    }

    /// A move made by automation rule `rule`.
    pub fn automation(rule: RuleId) -> Self {
        Source::Automation { rule }
    }

    /// The source of every move of the Advocate Enrollment journey.
    pub fn enrollment_status() -> Self {
        // Built once: every contact added (one by one or by a bulk import) takes it.
        static REASON: std::sync::OnceLock<ReasonKey> = std::sync::OnceLock::new();
        let reason = REASON.get_or_init(|| {
            ReasonKey::new(ENROLLMENT_STATUS_REASON).unwrap_or_else(|_| unreachable!("the reason is a slug"))
        });
        Source::System { reason: reason.clone() }
    }

    /// The source's kind: `automation`, `import`, `manual` or `system`.
    pub fn kind(&self) -> &'static str {
        match self {
            Source::Import { .. } => SourceKind::Import.as_str(),
            other => other.reported().as_str(),
        }
    }

    /// The kind a breakdown and the CSV `source` column report: an imported row's
    /// [`origin`](Source::Import::origin) when it named one, else [`kind`](Self::kind).
    ///
    /// ```
    /// use journeys::{Source, SourceKind};
    /// let backfilled = Source::Import { batch: "crm.csv".parse()?, line: 2, origin: Some(SourceKind::Manual) };
    /// assert_eq!((backfilled.kind(), backfilled.reported_kind()), ("import", "manual"));
    /// # Ok::<(), journeys::DomainError>(())
    /// ```
    pub fn reported_kind(&self) -> &'static str {
        self.reported().as_str()
    }

    /// The [`SourceKind`] a breakdown reports, as [`reported_kind`](Self::reported_kind).
    pub fn reported(&self) -> SourceKind {
        match self {
            Source::Automation { .. } => SourceKind::Automation,
            Source::Import { origin: Some(origin), .. } => *origin,
            Source::Import { .. } => SourceKind::Import,
            Source::Manual { .. } => SourceKind::Manual,
            Source::System { .. } => SourceKind::System,
        }
    }

    /// Whether this is the enrollment-status source that alone may move the system
    /// journey.
    pub fn is_enrollment_status(&self) -> bool {
        matches!(self, Source::System { reason } if reason == ENROLLMENT_STATUS_REASON)
    }
}

/// Where and how the interaction behind a move happened (rule 7).
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct TouchpointInfo {
    /// The channel, such as `email` or `website`.
    pub channel: ChannelKey,
    /// The interaction type, such as `call` or `purchase`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub interaction: Option<InteractionKey>,
    /// A free-form note on the outcome.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub note: Option<Note>,
}

impl TouchpointInfo {
    /// A touchpoint on `channel` with no interaction type or note.
    pub fn on(channel: ChannelKey) -> Self {
        TouchpointInfo { channel, interaction: None, note: None }
    }
}

/// One move of one contact in one journey.
///
/// Transitions are produced by [`crate::sequencing::decide`] and never edited: a
/// membership's history is the list of its transitions, and its version is the
/// `version` of the last one (1 for the entry).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Transition {
    /// Who moved.
    pub contact: ContactId,
    /// In which journey.
    pub journey: JourneyId,
    /// The membership's version after this move: 1 for the entry, then +1 per move.
    pub version: u64,
    /// The stage left; `None` when the contact entered the journey.
    pub from: Option<StageKey>,
    /// The stage entered.
    pub to: StageKey,
    /// When the move happened in the world.
    pub occurred_at: DateTime<Utc>,
    /// When the move was recorded; later than `occurred_at` for back-filled data.
    pub recorded_at: DateTime<Utc>,
    /// Who or what made the move.
    pub source: Source,
    /// The interaction behind the move, if known. Boxed because most moves have none:
    /// inline it would make every stored transition 16 bytes larger (120 instead of
    /// 104), and an engine move's cost is mostly the memory its transition touches.
    /// The JSON is the same as for an unboxed value.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub touchpoint: Option<Box<TouchpointInfo>>,
    /// The key of the command that made the move, if it carried one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub idempotency_key: Option<IdempotencyKey>,
}

#[cfg(test)]
mod tests {
    use super::*;

    /// An engine move's cost is mostly the memory its stored transition touches, so a
    /// field that makes every transition larger shows here first.
    #[test]
    #[cfg(target_pointer_width = "64")]
    fn a_transition_stays_within_104_bytes() {
        assert!(std::mem::size_of::<Transition>() <= 104, "{} bytes", std::mem::size_of::<Transition>());
    }
}
