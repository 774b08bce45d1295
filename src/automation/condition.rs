//! The condition language: `all` / `any` / `not` trees of typed comparisons over
//! fields of an event and of a contact.
//!
//! A condition is data ([`Condition`], serde, JSON-friendly). Compiling it
//! ([`Condition::compile`]) checks it once — no empty group, each operator given the
//! operand it needs, literals of a field's known type — and turns field names into
//! slots, so evaluating it reads each field once and compares without allocating.
//!
//! Evaluation is three-valued and then some: a comparison is [`Verdict::True`] or
//! [`Verdict::False`] only when the field is present and of a type the operator
//! accepts; an absent field gives [`Verdict::Missing`] and a field of the wrong type
//! [`Verdict::TypeMismatch`], never a silent `false`. Groups combine verdicts as in
//! Kleene logic: `all` is false if any part is false, `any` is true if any part is
//! true, and otherwise the first part that is neither decides.
//!
//! ## Conditions without an event: segments
//!
//! What a condition reads comes from a [`FieldSource`]. A [`Contact`] is one by
//! itself — it answers `contact.<attribute>` and `enrollment` — so a condition over
//! contact attributes (a segment) is evaluated against a contact alone:
//!
//! ```
//! use journeys::automation::condition::{Condition, Verdict};
//! use journeys::{Contact, Value};
//! let smb: Condition = serde_json::from_str(r#"{"all": [
//!     {"field": "contact.employees", "op": "lt", "value": 50},
//!     {"field": "contact.country", "op": "in", "value": ["DE", "AT", "CH"]}
//! ]}"#)?;
//! let smb = smb.compile()?;
//! let ada = Contact::new("ada".parse()?)
//!     .with_attribute("employees".parse()?, Value::number(12.0)?)
//!     .with_attribute("country".parse()?, Value::from("AT"));
//! assert_eq!(smb.evaluate(&ada), Verdict::True);
//! // An attribute that is not set is not "false": the verdict says so.
//! assert_eq!(smb.evaluate(&Contact::new("bob".parse()?)), Verdict::Missing);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! ## JSON shape
//!
//! - `{"all": [c, …]}`, `{"any": [c, …]}` (each with at least one part), `{"not": c}`;
//! - `{"field": F, "op": O, "value": V}`: `O` is one of `eq ne lt le gt ge in contains
//!   starts_with exists` (`exists` takes no value), `V` a [`Value`];
//! - `F` is a [`Field`]: `event.<name>`, `contact.<attribute>`, `enrollment` or
//!   `stage.<journey>`.
//!
//! Operators and types: `eq`/`ne` compare values of one type; `lt le gt ge` order
//! numbers, strings or timestamps; `in` asks whether the field equals an element of a
//! non-empty list of one type; `contains` asks whether a list field holds the value,
//! or a string field holds the text; `starts_with` takes text; `exists` is true when
//! the field is present.

use std::fmt;

use indexmap::IndexSet;
use serde::{Deserialize, Serialize};

use crate::error::DomainError;
use crate::model::contact::Contact;
use crate::model::ids::{AttributeKey, JourneyId, PropertyKey};
use crate::model::value::{Value, ValueRef, ValueType};

use super::event::Event;

/// What a comparison reads.
///
/// Written as text: `event.amount` (a field or property of the event),
/// `contact.plan` (a contact attribute), `enrollment` (the contact's enrollment
/// status, as text) or `stage.referral` (the contact's current stage key in journey
/// `referral`; absent when not a member).
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub enum Field {
    /// A built-in field or a property of the event.
    Event(PropertyKey),
    /// An attribute of the contact.
    Contact(AttributeKey),
    /// The contact's enrollment status.
    Enrollment,
    /// The contact's current stage in a journey.
    Stage(JourneyId),
}

impl Field {
    /// The type the field has whatever the event, if fixed.
    pub(crate) fn fixed_type(&self) -> Option<ValueType> {
        match self {
            Field::Enrollment | Field::Stage(_) => Some(ValueType::String),
            Field::Event(_) | Field::Contact(_) => None,
        }
    }
}

impl std::str::FromStr for Field {
    type Err = DomainError;
    fn from_str(text: &str) -> Result<Self, DomainError> {
        let invalid = |reason| DomainError::InvalidValue {
            field: "field",
            value: text.chars().take(160).collect(),
            reason,
        };
        match text.split_once('.') {
            Some(("event", name)) => Ok(Field::Event(name.parse()?)),
            Some(("contact", name)) => Ok(Field::Contact(name.parse()?)),
            Some(("stage", journey)) => Ok(Field::Stage(journey.parse()?)),
            None if text == "enrollment" => Ok(Field::Enrollment),
            _ => Err(invalid("must be event.<name>, contact.<attribute>, enrollment or stage.<journey>")),
        }
    }
}

impl TryFrom<String> for Field {
    type Error = DomainError;
    fn try_from(text: String) -> Result<Self, DomainError> {
        text.parse()
    }
}

impl From<Field> for String {
    fn from(field: Field) -> String {
        field.to_string()
    }
}

impl fmt::Display for Field {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Field::Event(name) => write!(f, "event.{name}"),
            Field::Contact(name) => write!(f, "contact.{name}"),
            Field::Enrollment => f.write_str("enrollment"),
            Field::Stage(journey) => write!(f, "stage.{journey}"),
        }
    }
}

/// Where conditions read fields from: an event, a contact, or both with the
/// contact's memberships (what automations evaluate against).
///
/// Answer `None` for a field the source does not have; the comparison's verdict is
/// then [`Verdict::Missing`].
pub trait FieldSource {
    /// The value of `field`, if present.
    fn read(&self, field: &Field) -> Option<ValueRef<'_>>;
}

/// A contact answers `contact.<attribute>` and `enrollment`.
impl FieldSource for Contact {
    fn read(&self, field: &Field) -> Option<ValueRef<'_>> {
        match field {
            Field::Contact(key) => self.attribute(key.as_str()).map(ValueRef::from),
            Field::Enrollment => Some(ValueRef::String(self.enrollment.as_str())),
            Field::Event(_) | Field::Stage(_) => None,
        }
    }
}

/// An event answers `event.<name>`.
impl FieldSource for Event {
    fn read(&self, field: &Field) -> Option<ValueRef<'_>> {
        match field {
            Field::Event(name) => self.field(name.as_str()),
            Field::Contact(_) | Field::Enrollment | Field::Stage(_) => None,
        }
    }
}

/// A comparison operator.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Op {
    /// Equal (same type).
    Eq,
    /// Not equal (same type).
    Ne,
    /// Less than (numbers, strings, timestamps).
    Lt,
    /// Less than or equal.
    Le,
    /// Greater than.
    Gt,
    /// Greater than or equal.
    Ge,
    /// Equal to an element of the list given.
    In,
    /// A list field holds the value, or a string field holds the text.
    Contains,
    /// A string field starts with the text.
    StartsWith,
    /// The field is present (takes no value).
    Exists,
}

impl Op {
    /// The operator as written in JSON.
    pub fn as_str(self) -> &'static str {
        match self {
            Op::Eq => "eq",
            Op::Ne => "ne",
            Op::Lt => "lt",
            Op::Le => "le",
            Op::Gt => "gt",
            Op::Ge => "ge",
            Op::In => "in",
            Op::Contains => "contains",
            Op::StartsWith => "starts_with",
            Op::Exists => "exists",
        }
    }
}

/// One comparison: `field op value`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Comparison {
    /// What is read.
    pub field: Field,
    /// How it is compared.
    pub op: Op,
    /// What it is compared with (`None` for `exists`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub value: Option<Value>,
}

/// A condition tree. See the [module docs](self) for the JSON shape.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum Condition {
    /// Every part holds.
    All {
        /// The parts (at least one).
        all: Vec<Condition>,
    },
    /// At least one part holds.
    Any {
        /// The parts (at least one).
        any: Vec<Condition>,
    },
    /// The part does not hold.
    Not {
        /// The part.
        not: Box<Condition>,
    },
    /// A comparison.
    Compare(Comparison),
}

impl Condition {
    /// `field op value`.
    pub fn compare(field: Field, op: Op, value: impl Into<Option<Value>>) -> Self {
        Condition::Compare(Comparison { field, op, value: value.into() })
    }

    /// `field exists`.
    pub fn exists(field: Field) -> Self {
        Condition::compare(field, Op::Exists, None)
    }

    /// Checks the condition and compiles it for evaluation. Fields of a fixed type
    /// (`enrollment`, `stage.*`) are type-checked now; others when read.
    ///
    /// # Errors
    /// [`DomainError::InvalidCondition`] with the JSON pointer of the offending part
    /// (e.g. `/all/1/value`) and the cause: `empty_condition`, `invalid_operand` or
    /// `type_mismatch`.
    pub fn compile(&self) -> Result<CompiledCondition, DomainError> {
        let mut fields = FieldTable::default();
        let root = Node::compile(self, &mut fields, &|field: &Field| field.fixed_type(), &mut String::new())?;
        Ok(CompiledCondition { fields, root })
    }
}

/// A comparison's or a condition's outcome.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Verdict {
    /// It holds.
    True,
    /// It does not hold.
    False,
    /// A field it reads is absent.
    Missing,
    /// A field it reads has a type the operator does not take.
    TypeMismatch,
}

impl Verdict {
    /// Whether this is [`Verdict::True`].
    pub fn holds(self) -> bool {
        self == Verdict::True
    }

    fn of(b: bool) -> Self {
        if b { Verdict::True } else { Verdict::False }
    }

    fn all(self, next: Verdict) -> Verdict {
        match (self, next) {
            (Verdict::False, _) | (_, Verdict::False) => Verdict::False,
            (Verdict::True, next) => next,
            (undecided, _) => undecided,
        }
    }

    fn any(self, next: Verdict) -> Verdict {
        match (self, next) {
            (Verdict::True, _) | (_, Verdict::True) => Verdict::True,
            (Verdict::False, next) => next,
            (undecided, _) => undecided,
        }
    }

    fn not(self) -> Verdict {
        match self {
            Verdict::True => Verdict::False,
            Verdict::False => Verdict::True,
            undecided => undecided,
        }
    }
}

/// The distinct fields compiled conditions read, each read once per evaluation.
#[derive(Clone, Debug, Default, PartialEq)]
pub(crate) struct FieldTable {
    fields: IndexSet<Field>,
}

impl FieldTable {
    fn intern(&mut self, field: &Field) -> usize {
        match self.fields.get_index_of(field) {
            Some(slot) => slot,
            None => self.fields.insert_full(field.clone()).0,
        }
    }

    /// Reads every field from `source` once and runs `f` over the values, in slot
    /// order; a small table's values stay on the stack.
    pub(crate) fn with_slots<'a, S: FieldSource + ?Sized, R>(
        &self,
        source: &'a S,
        f: impl FnOnce(&[Option<ValueRef<'a>>]) -> R,
    ) -> R {
        const ON_STACK: usize = 16;
        if self.fields.len() <= ON_STACK {
            let mut slots = [None; ON_STACK];
            for (slot, field) in slots.iter_mut().zip(&self.fields) {
                *slot = source.read(field);
            }
            f(&slots[..self.fields.len()])
        } else {
            let slots: Vec<_> = self.fields.iter().map(|field| source.read(field)).collect();
            f(&slots)
        }
    }

    pub(crate) fn field(&self, slot: usize) -> Option<&Field> {
        self.fields.get_index(slot)
    }
}

/// A compiled comparison.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct Compare {
    slot: usize,
    op: Op,
    value: Option<Value>,
    /// The JSON pointer of the comparison, for explanations.
    path: Box<str>,
}

/// A compiled condition tree over a [`FieldTable`]'s slots.
#[derive(Clone, Debug, PartialEq)]
pub(crate) enum Node {
    All(Box<[Node]>),
    Any(Box<[Node]>),
    Not(Box<Node>),
    Compare(Compare),
}

/// Sees each comparison as it is evaluated; explanations record them, the fast path
/// ignores them (and stops early).
pub(crate) trait Observer {
    /// Whether groups stop at the first part that decides them.
    const SHORT_CIRCUIT: bool;
    fn compared(&mut self, compare: &Compare, read: Option<ValueRef<'_>>, verdict: Verdict);
}

/// The observer of the fast path.
pub(crate) struct Quiet;

impl Observer for Quiet {
    const SHORT_CIRCUIT: bool = true;
    fn compared(&mut self, _: &Compare, _: Option<ValueRef<'_>>, _: Verdict) {}
}

/// What one comparison read and decided.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ComparisonTrace {
    /// The comparison's JSON pointer within its rule or condition.
    pub path: String,
    /// The field read.
    pub field: Field,
    /// The operator.
    pub op: Op,
    /// The value compared with.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub value: Option<Value>,
    /// The value read (`None`: absent).
    pub read: Option<Value>,
    /// The comparison's verdict.
    pub verdict: Verdict,
}

/// Records every comparison, evaluating all of them.
pub(crate) struct Tracer<'t> {
    pub(crate) fields: &'t FieldTable,
    pub(crate) trace: Vec<ComparisonTrace>,
}

impl Observer for Tracer<'_> {
    const SHORT_CIRCUIT: bool = false;
    fn compared(&mut self, compare: &Compare, read: Option<ValueRef<'_>>, verdict: Verdict) {
        let Some(field) = self.fields.field(compare.slot) else { return };
        self.trace.push(ComparisonTrace {
            path: compare.path.to_string(),
            field: field.clone(),
            op: compare.op,
            value: compare.value.clone(),
            read: read.map(ValueRef::to_value),
            verdict,
        });
    }
}

/// The JSON pointer `path` extended by `segment` while `f` runs.
fn nested<T>(path: &mut String, segment: &str, f: impl FnOnce(&mut String) -> T) -> T {
    let len = path.len();
    path.push('/');
    path.push_str(segment);
    let result = f(path);
    path.truncate(len);
    result
}

fn invalid(path: &str, cause: DomainError) -> DomainError {
    DomainError::InvalidCondition { path: path.to_owned(), cause: Box::new(cause) }
}

/// Orderable types.
fn orderable(ty: ValueType) -> bool {
    matches!(ty, ValueType::Number | ValueType::String | ValueType::Timestamp)
}

/// Checks that `op` with literal `value` suits a field of type `field_type` (`None`:
/// known only when read). Returns the cause of the refusal and the JSON pointer
/// segment it is at.
fn check_operand(
    op: Op,
    value: Option<&Value>,
    field_type: Option<ValueType>,
) -> Result<(), (&'static str, DomainError)> {
    let operand = |reason| ("value", DomainError::InvalidOperand { op: op.as_str(), reason });
    let mismatch = |expected: ValueType, found: ValueType| {
        (
            "value",
            DomainError::TypeMismatch { op: op.as_str(), expected: expected.name(), found: found.name() },
        )
    };
    let Some(value) = value else {
        return if op == Op::Exists {
            Ok(())
        } else {
            Err(("op", DomainError::InvalidOperand { op: op.as_str(), reason: "needs a value" }))
        };
    };
    let literal = value.value_type();
    // The type a field must have for this operand, if the operand fixes one.
    let wanted = match op {
        Op::Exists => return Err(operand("takes no value")),
        Op::Eq | Op::Ne => Some(literal),
        Op::Lt | Op::Le | Op::Gt | Op::Ge if orderable(literal) => Some(literal),
        Op::Lt | Op::Le | Op::Gt | Op::Ge => {
            return Err(operand("orders only numbers, strings and timestamps"));
        }
        Op::In => match value {
            Value::List(items) => {
                let first =
                    items.first().map(Value::value_type).ok_or_else(|| operand("needs a non-empty list"))?;
                if first == ValueType::List || items.iter().any(|item| item.value_type() != first) {
                    return Err(operand("needs a list of values of one type, not lists"));
                }
                Some(first)
            }
            _ => return Err(operand("needs a list")),
        },
        Op::Contains if literal == ValueType::List => return Err(operand("takes one value, not a list")),
        Op::Contains if literal == ValueType::String => None,
        Op::Contains => Some(ValueType::List),
        Op::StartsWith if literal == ValueType::String => Some(ValueType::String),
        Op::StartsWith => return Err(operand("takes text")),
    };
    match (field_type, wanted) {
        (Some(actual), Some(wanted)) if actual != wanted => Err(mismatch(actual, literal)),
        // `contains` with text: a string field holds the text or a list holds it.
        (Some(actual), None) if !matches!(actual, ValueType::String | ValueType::List) => {
            Err(mismatch(actual, literal))
        }
        _ => Ok(()),
    }
}

impl Node {
    /// Compiles `condition` at JSON pointer `path`, interning fields into `fields` and
    /// typing them with `types`.
    pub(crate) fn compile(
        condition: &Condition,
        fields: &mut FieldTable,
        types: &dyn Fn(&Field) -> Option<ValueType>,
        path: &mut String,
    ) -> Result<Node, DomainError> {
        let group = |parts: &[Condition], name: &'static str, fields: &mut FieldTable, path: &mut String| {
            nested(path, name, |path| {
                if parts.is_empty() {
                    return Err(invalid(path, DomainError::EmptyCondition { group: name }));
                }
                parts
                    .iter()
                    .enumerate()
                    .map(|(i, part)| {
                        nested(path, &i.to_string(), |path| Node::compile(part, fields, types, path))
                    })
                    .collect::<Result<Box<[Node]>, _>>()
            })
        };
        Ok(match condition {
            Condition::All { all } => Node::All(group(all, "all", fields, path)?),
            Condition::Any { any } => Node::Any(group(any, "any", fields, path)?),
            Condition::Not { not } => {
                Node::Not(Box::new(nested(path, "not", |path| Node::compile(not, fields, types, path))?))
            }
            Condition::Compare(c) => {
                check_operand(c.op, c.value.as_ref(), types(&c.field))
                    .map_err(|(segment, cause)| nested(path, segment, |path| invalid(path, cause)))?;
                Node::Compare(Compare {
                    slot: fields.intern(&c.field),
                    op: c.op,
                    value: c.value.clone(),
                    path: path.as_str().into(),
                })
            }
        })
    }

    /// The verdict over fields read into `slots`.
    pub(crate) fn eval<O: Observer>(&self, slots: &[Option<ValueRef<'_>>], observer: &mut O) -> Verdict {
        match self {
            Node::All(parts) => {
                let mut verdict = Verdict::True;
                for part in parts {
                    verdict = verdict.all(part.eval(slots, observer));
                    if O::SHORT_CIRCUIT && verdict == Verdict::False {
                        break;
                    }
                }
                verdict
            }
            Node::Any(parts) => {
                let mut verdict = Verdict::False;
                for part in parts {
                    verdict = verdict.any(part.eval(slots, observer));
                    if O::SHORT_CIRCUIT && verdict == Verdict::True {
                        break;
                    }
                }
                verdict
            }
            Node::Not(part) => part.eval(slots, observer).not(),
            Node::Compare(c) => {
                let read = slots.get(c.slot).copied().flatten();
                let verdict = compare(c.op, read, c.value.as_ref());
                observer.compared(c, read, verdict);
                verdict
            }
        }
    }
}

/// `read op value`, with the value checked at compile time.
fn compare(op: Op, read: Option<ValueRef<'_>>, value: Option<&Value>) -> Verdict {
    let Some(read) = read else {
        return if op == Op::Exists { Verdict::False } else { Verdict::Missing };
    };
    let Some(value) = value else {
        return Verdict::True; // `exists`, the only operator without a value.
    };
    let literal = ValueRef::from(value);
    let same_type = read.value_type() == literal.value_type();
    match op {
        Op::Exists => Verdict::True,
        Op::Eq | Op::Ne if !same_type => Verdict::TypeMismatch,
        Op::Eq => Verdict::of(read == literal),
        Op::Ne => Verdict::of(read != literal),
        Op::Lt | Op::Le | Op::Gt | Op::Ge => {
            let ordering = match (read, literal) {
                (ValueRef::Number(a), ValueRef::Number(b)) => a.partial_cmp(&b),
                (ValueRef::String(a), ValueRef::String(b)) => Some(a.cmp(b)),
                (ValueRef::Timestamp(a), ValueRef::Timestamp(b)) => Some(a.cmp(&b)),
                _ => None,
            };
            ordering.map_or(Verdict::TypeMismatch, |ordering| {
                Verdict::of(match op {
                    Op::Lt => ordering.is_lt(),
                    Op::Le => ordering.is_le(),
                    Op::Gt => ordering.is_gt(),
                    _ => ordering.is_ge(),
                })
            })
        }
        Op::In => match value {
            Value::List(items)
                if items.first().is_some_and(|item| item.value_type() == read.value_type()) =>
            {
                Verdict::of(items.iter().any(|item| ValueRef::from(item) == read))
            }
            _ => Verdict::TypeMismatch,
        },
        Op::Contains => match (read, literal) {
            (ValueRef::List(items), _) => {
                Verdict::of(items.iter().any(|item| ValueRef::from(item) == literal))
            }
            (ValueRef::String(text), ValueRef::String(part)) => Verdict::of(text.contains(part)),
            _ => Verdict::TypeMismatch,
        },
        Op::StartsWith => match (read, literal) {
            (ValueRef::String(text), ValueRef::String(prefix)) => Verdict::of(text.starts_with(prefix)),
            _ => Verdict::TypeMismatch,
        },
    }
}

/// A checked condition, ready to evaluate against any [`FieldSource`].
#[derive(Clone, Debug, PartialEq)]
pub struct CompiledCondition {
    fields: FieldTable,
    root: Node,
}

/// A condition's verdict with every comparison it made.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ConditionExplanation {
    /// The condition's verdict.
    pub verdict: Verdict,
    /// Every comparison, in the condition's order, with what it read.
    pub comparisons: Vec<ComparisonTrace>,
}

impl CompiledCondition {
    /// The condition's verdict for the fields `source` holds.
    pub fn evaluate<S: FieldSource + ?Sized>(&self, source: &S) -> Verdict {
        self.run(source, &mut Quiet)
    }

    /// The verdict with every comparison, each with the value it read; the same
    /// verdict as [`evaluate`](Self::evaluate).
    pub fn explain<S: FieldSource + ?Sized>(&self, source: &S) -> ConditionExplanation {
        let mut tracer = Tracer { fields: &self.fields, trace: Vec::new() };
        let verdict = self.run(source, &mut tracer);
        ConditionExplanation { verdict, comparisons: tracer.trace }
    }

    fn run<S: FieldSource + ?Sized, O: Observer>(&self, source: &S, observer: &mut O) -> Verdict {
        self.fields.with_slots(source, |slots| self.root.eval(slots, observer))
    }

    /// The distinct fields the condition reads, in first-use order.
    pub fn fields(&self) -> impl ExactSizeIterator<Item = &Field> + '_ {
        self.fields.fields.iter()
    }
}
