//! Segments: a named condition over contact attributes, written in the automation
//! condition language ([`Condition`]), so a segment and a rule's condition are the
//! same thing evaluated the same way.
//!
//! A segment becomes a [`ContactSet`] over a contact table — the form every dashboard
//! query ([`Scope::segment`](crate::analytics::Scope::segment)) and every journey-map
//! report takes — and a list of segments becomes a partition for
//! [`breakdown`](crate::analytics::breakdown).

use serde::{Deserialize, Serialize};

use crate::analytics::{ContactSet, ContactTable, Segments};
use crate::automation::condition::{CompiledCondition, Condition, Field};
use crate::error::DomainError;
use crate::model::contact::Contact;
use crate::model::ids::Name;

/// A named condition over a contact's attributes and enrollment status.
///
/// A contact is a member when the condition's verdict is
/// [`Verdict::True`](crate::automation::Verdict::True); a contact whose attribute is
/// missing or of another type is not. Checked on construction and on
/// deserialization: the condition compiles and reads only `contact.<attribute>` and
/// `enrollment`.
///
/// ```
/// use journeys::analytics::ContactTable;
/// use journeys::segment::Segment;
/// use journeys::{Contact, Value};
/// let smb: Segment = serde_json::from_str(r#"{"name": "Small business",
///     "condition": {"field": "contact.employees", "op": "lt", "value": 50}}"#)?;
/// let ada = Contact::new("ada".parse()?).with_attribute("employees".parse()?, Value::number(12.0)?);
/// let bob = Contact::new("bob".parse()?);
/// assert!(smb.contains(&ada) && !smb.contains(&bob));
///
/// let mut table = ContactTable::default();
/// table.intern("ada")?;
/// table.intern("bob")?;
/// assert_eq!(smb.members(&table, [&ada, &bob]).len(), 1);
/// // A segment reads the contact only.
/// let event = r#"{"name": "Big orders", "condition": {"field": "event.amount", "op": "gt", "value": 100}}"#;
/// assert!(serde_json::from_str::<Segment>(event).is_err());
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(try_from = "SegmentDefinition", into = "SegmentDefinition")]
pub struct Segment {
    name: Name,
    condition: Condition,
    compiled: CompiledCondition,
}

impl PartialEq for Segment {
    fn eq(&self, other: &Self) -> bool {
        self.name == other.name && self.condition == other.condition
    }
}

/// The wire form, checked into a [`Segment`].
#[derive(Serialize, Deserialize)]
struct SegmentDefinition {
    name: Name,
    condition: Condition,
}

impl TryFrom<SegmentDefinition> for Segment {
    type Error = DomainError;
    fn try_from(d: SegmentDefinition) -> Result<Self, DomainError> {
        Segment::new(d.name, d.condition)
    }
}

impl From<Segment> for SegmentDefinition {
    fn from(s: Segment) -> Self {
        SegmentDefinition { name: s.name, condition: s.condition }
    }
}

impl Segment {
    /// A segment named `name` of the contacts `condition` holds for.
    ///
    /// # Errors
    /// What [`Condition::compile`] refuses, and [`DomainError::InvalidValue`] naming a
    /// field that is not `contact.<attribute>` or `enrollment`.
    pub fn new(name: Name, condition: Condition) -> Result<Self, DomainError> {
        let compiled = condition.compile()?;
        if let Some(field) = compiled.fields().find(|f| !matches!(f, Field::Contact(_) | Field::Enrollment)) {
            return Err(DomainError::InvalidValue {
                field: "segment field",
                value: field.to_string(),
                reason: "a segment reads only contact.<attribute> and enrollment",
            });
        }
        Ok(Segment { name, condition, compiled })
    }

    /// The segment's name.
    pub fn name(&self) -> &Name {
        &self.name
    }

    /// Its condition.
    pub fn condition(&self) -> &Condition {
        &self.condition
    }

    /// Whether `contact` is a member.
    pub fn contains(&self, contact: &Contact) -> bool {
        self.compiled.evaluate(contact).holds()
    }

    /// The members among `contacts` as a set over `table` (contacts not in the table
    /// are passed over).
    pub fn members<'c>(
        &self,
        table: &ContactTable,
        contacts: impl IntoIterator<Item = &'c Contact>,
    ) -> ContactSet {
        let mut set = ContactSet::new(table);
        for contact in contacts {
            if let Some(c) = table.get(contact.id.as_str()) {
                if self.contains(contact) {
                    set.insert(c);
                }
            }
        }
        set
    }
}

impl Segments<Option<Name>> {
    /// The contacts of `table` split by `segments`: each contact in the first segment
    /// it is a member of, `None` for those in none (or without a record among
    /// `contacts`). The parts are disjoint and cover the table, so a breakdown over
    /// them adds up to the whole.
    ///
    /// ```
    /// use journeys::analytics::{ContactTable, Segments};
    /// use journeys::segment::Segment;
    /// use journeys::{Contact, Value};
    /// let vip = Segment::new("VIP".parse()?, serde_json::from_str(r#"{"field": "contact.vip", "op": "eq", "value": true}"#)?)?;
    /// let ada = Contact::new("ada".parse()?).with_attribute("vip".parse()?, Value::Bool(true));
    /// let mut table = ContactTable::default();
    /// for id in ["ada", "bob"] { table.intern(id)?; }
    /// let parts = Segments::by_segment(&table, [&ada], &[vip]);
    /// assert_eq!(parts.segments.len(), 2);
    /// assert_eq!(parts.segments[0].0.as_ref().map(|n| n.as_str()), Some("VIP"));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn by_segment<'c>(
        table: &ContactTable,
        contacts: impl IntoIterator<Item = &'c Contact>,
        segments: &[Segment],
    ) -> Self {
        let mut first: Vec<Option<usize>> = vec![None; table.len()];
        for contact in contacts {
            if let Some(c) = table.get(contact.id.as_str()) {
                first[c.index()] = segments.iter().position(|s| s.contains(contact));
            }
        }
        Segments::from_keys(
            table.iter().map(|(c, _)| (c, first[c.index()].map(|s| segments[s].name.clone()))),
        )
    }
}
