//! Contacts: the people who move through journeys.

use std::collections::BTreeMap;
use std::fmt;

use serde::{Deserialize, Serialize};

use super::ids::{AttributeKey, ContactId};
use super::value::Value;

/// A contact's standing in the advocate programme.
///
/// The system journey *Advocate Enrollment* mirrors it: its stages are these
/// statuses, and only a status change moves a contact there.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum EnrollmentStatus {
    /// Known, not yet invited.
    Prospect,
    /// Invited or applied, awaiting approval.
    Pending,
    /// An active advocate.
    Enrolled,
    /// Left the programme.
    Unenrolled,
    /// Held for review.
    Flagged,
    /// Removed from the programme for good.
    Banned,
}

impl EnrollmentStatus {
    /// Every status, in the order of the Advocate Enrollment journey's stages.
    pub const ALL: [EnrollmentStatus; 6] = [
        EnrollmentStatus::Prospect,
        EnrollmentStatus::Pending,
        EnrollmentStatus::Enrolled,
        EnrollmentStatus::Unenrolled,
        EnrollmentStatus::Flagged,
        EnrollmentStatus::Banned,
    ];

    /// The status's key, also the key of its stage in the system journey.
    pub fn as_str(self) -> &'static str {
        match self {
            EnrollmentStatus::Prospect => "prospect",
            EnrollmentStatus::Pending => "pending",
            EnrollmentStatus::Enrolled => "enrolled",
            EnrollmentStatus::Unenrolled => "unenrolled",
            EnrollmentStatus::Flagged => "flagged",
            EnrollmentStatus::Banned => "banned",
        }
    }

    /// The status whose key is `key`, if any.
    pub fn from_key(key: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|s| s.as_str() == key)
    }
}

impl fmt::Display for EnrollmentStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A contact: an id, an enrollment status and typed attributes (segment, plan,
/// anything the host keeps).
///
/// ```
/// use journeys::{Contact, EnrollmentStatus, Value};
/// let ada = Contact::new("ada@example.com".parse()?)
///     .with_status(EnrollmentStatus::Enrolled)
///     .with_attribute("segment".parse()?, Value::from("smb"));
/// assert_eq!(ada.attribute("segment"), Some(&Value::from("smb")));
/// # Ok::<(), journeys::DomainError>(())
/// ```
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Contact {
    /// The contact's id.
    pub id: ContactId,
    /// Where the contact stands in the advocate programme.
    pub enrollment: EnrollmentStatus,
    /// Typed attributes by key, in key order.
    #[serde(default)]
    pub attributes: BTreeMap<AttributeKey, Value>,
}

impl Contact {
    /// A prospect with no attributes.
    pub fn new(id: ContactId) -> Self {
        Contact { id, enrollment: EnrollmentStatus::Prospect, attributes: BTreeMap::new() }
    }

    /// The same contact with another enrollment status.
    #[must_use]
    pub fn with_status(mut self, status: EnrollmentStatus) -> Self {
        self.enrollment = status;
        self
    }

    /// The same contact with an attribute set.
    #[must_use]
    pub fn with_attribute(mut self, key: AttributeKey, value: Value) -> Self {
        self.attributes.insert(key, value);
        self
    }

    /// The attribute named `key`, if set.
    pub fn attribute(&self, key: &str) -> Option<&Value> {
        self.attributes.get(key)
    }
}
