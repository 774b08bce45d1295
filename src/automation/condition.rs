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

    /// A verdict as a non-zero byte (0 means undecided).
    fn code(self) -> u8 {
        match self {
            Verdict::True => 1,
            Verdict::False => 2,
            Verdict::Missing => 3,
            Verdict::TypeMismatch => 4,
        }
    }

    fn from_code(code: u8) -> Option<Self> {
        match code {
            1 => Some(Verdict::True),
            2 => Some(Verdict::False),
            3 => Some(Verdict::Missing),
            4 => Some(Verdict::TypeMismatch),
            _ => None,
        }
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

/// The distinct fields compiled conditions read and the distinct comparisons they
/// make: an evaluation reads each field once, and decides each comparison at most
/// once however many rules share it.
#[derive(Clone, Debug, Default, PartialEq)]
pub(crate) struct FieldTable {
    fields: IndexSet<Field>,
    predicates: Vec<Predicate>,
}

/// Up to this many fields and comparisons, an evaluation keeps them on the stack.
const ON_STACK: usize = 16;
const PREDICATES_ON_STACK: usize = 128;

/// The fields read for one evaluation and the comparisons decided so far.
pub(crate) struct Reading<'r, 'a> {
    slots: &'r [Option<ValueRef<'a>>],
    predicates: &'r [Predicate],
    /// Per comparison: 0 while undecided, else its verdict's code.
    decided: &'r mut [u8],
}

impl Reading<'_, '_> {
    /// The verdict of predicate `index`, decided on first use.
    #[inline]
    pub(crate) fn verdict(&mut self, index: usize) -> Verdict {
        let Some(predicate) = self.predicates.get(index) else {
            return Verdict::Missing;
        };
        let decided = self.decided.get_mut(index);
        if let Some(known) = decided.as_deref().copied().and_then(Verdict::from_code) {
            return known;
        }
        let verdict = predicate.decide(self.slots.get(predicate.slot).copied().flatten());
        if let Some(code) = decided {
            *code = verdict.code();
        }
        verdict
    }
}

impl FieldTable {
    /// How many distinct comparisons the table holds.
    pub(crate) fn predicate_count(&self) -> usize {
        self.predicates.len()
    }

    fn intern(&mut self, field: &Field) -> usize {
        match self.fields.get_index_of(field) {
            Some(slot) => slot,
            None => self.fields.insert_full(field.clone()).0,
        }
    }

    fn predicate(&mut self, predicate: Predicate) -> usize {
        match self.predicates.iter().position(|known| *known == predicate) {
            Some(index) => index,
            None => {
                self.predicates.push(predicate);
                self.predicates.len() - 1
            }
        }
    }

    /// Reads every field from `source` once and runs `f` over the values; a small
    /// table's values and verdicts stay on the stack.
    pub(crate) fn with_reading<'a, S: FieldSource + ?Sized, R>(
        &self,
        source: &'a S,
        f: impl FnOnce(&mut Reading<'_, 'a>) -> R,
    ) -> R {
        let fields = self.fields.len();
        let mut on_stack = [None; ON_STACK];
        let on_heap: Vec<_>;
        let slots = if fields <= ON_STACK {
            for (slot, field) in on_stack.iter_mut().zip(&self.fields) {
                *slot = source.read(field);
            }
            &on_stack[..fields]
        } else {
            on_heap = self.fields.iter().map(|field| source.read(field)).collect();
            &on_heap[..]
        };
        let count = self.predicates.len();
        let mut decided_on_stack = [0u8; PREDICATES_ON_STACK];
        let mut decided_on_heap: Vec<u8>;
        let decided = if count <= PREDICATES_ON_STACK {
            &mut decided_on_stack[..count]
        } else {
            decided_on_heap = vec![0; count];
            &mut decided_on_heap[..]
        };
        f(&mut Reading { slots, predicates: &self.predicates, decided })
    }

    pub(crate) fn field(&self, slot: usize) -> Option<&Field> {
        self.fields.get_index(slot)
    }
}

/// A distinct comparison of a [`FieldTable`]: a slot, an operator and a value.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct Predicate {
    slot: usize,
    op: Op,
    value: Option<Value>,
    /// The comparison prepared for the common cases.
    fast: Fast,
}

impl Predicate {
    /// The verdict on the value read.
    #[inline]
    fn decide(&self, read: Option<ValueRef<'_>>) -> Verdict {
        match (&self.fast, read) {
            // Numbers are finite: they always compare.
            (Fast::Number { holds, literal }, Some(ValueRef::Number(n))) => {
                n.partial_cmp(literal).map_or(Verdict::TypeMismatch, |o| holds.hold(o))
            }
            (Fast::Text { holds, literal }, Some(ValueRef::String(text))) => {
                if holds.0 == Orderings::EQUAL {
                    Verdict::of(text == &**literal)
                } else {
                    holds.hold(text.cmp(literal))
                }
            }
            _ => compare(self.op, read, self.value.as_ref()),
        }
    }
}

/// A compiled comparison: one of its table's predicates, where it stands.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct Compare {
    predicate: usize,
    /// The JSON pointer of the comparison, for explanations.
    path: Box<str>,
}

/// An ordering comparison of a number or text literal, decided without looking at
/// the operator again: which orderings of `read` against the literal hold.
#[derive(Clone, Debug, PartialEq)]
enum Fast {
    Number {
        holds: Orderings,
        literal: f64,
    },
    Text {
        holds: Orderings,
        literal: Box<str>,
    },
    /// Any other comparison: decided by [`compare`].
    General,
}

/// A set of [`std::cmp::Ordering`]s, one bit each.
#[derive(Clone, Copy, Debug, PartialEq)]
struct Orderings(u8);

impl Orderings {
    const LESS: u8 = 1;
    const EQUAL: u8 = 2;
    const GREATER: u8 = 4;

    fn of(op: Op) -> Option<Self> {
        Some(Orderings(match op {
            Op::Eq => Self::EQUAL,
            Op::Ne => Self::LESS | Self::GREATER,
            Op::Lt => Self::LESS,
            Op::Le => Self::LESS | Self::EQUAL,
            Op::Gt => Self::GREATER,
            Op::Ge => Self::GREATER | Self::EQUAL,
            Op::In | Op::Contains | Op::StartsWith | Op::Exists => return None,
        }))
    }

    fn hold(self, ordering: std::cmp::Ordering) -> Verdict {
        let bit = match ordering {
            std::cmp::Ordering::Less => Self::LESS,
            std::cmp::Ordering::Equal => Self::EQUAL,
            std::cmp::Ordering::Greater => Self::GREATER,
        };
        Verdict::of(self.0 & bit != 0)
    }
}

impl Fast {
    fn new(op: Op, value: Option<&Value>) -> Self {
        match (Orderings::of(op), value) {
            (Some(holds), Some(Value::Number(n))) => Fast::Number { holds, literal: *n },
            (Some(holds), Some(Value::String(s))) => Fast::Text { holds, literal: s.as_str().into() },
            _ => Fast::General,
        }
    }
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
    fn compared(&mut self, path: &str, predicate: &Predicate, read: Option<ValueRef<'_>>, verdict: Verdict);
}

/// The observer of the fast path.
pub(crate) struct Quiet;

impl Observer for Quiet {
    const SHORT_CIRCUIT: bool = true;
    fn compared(&mut self, _: &str, _: &Predicate, _: Option<ValueRef<'_>>, _: Verdict) {}
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
    fn compared(&mut self, path: &str, predicate: &Predicate, read: Option<ValueRef<'_>>, verdict: Verdict) {
        let Some(field) = self.fields.field(predicate.slot) else { return };
        self.trace.push(ComparisonTrace {
            path: path.to_owned(),
            field: field.clone(),
            op: predicate.op,
            value: predicate.value.clone(),
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
                let slot = fields.intern(&c.field);
                let fast = Fast::new(c.op, c.value.as_ref());
                let predicate = fields.predicate(Predicate { slot, op: c.op, value: c.value.clone(), fast });
                Node::Compare(Compare { predicate, path: path.as_str().into() })
            }
        })
    }

    /// The verdict over the fields of `reading`.
    pub(crate) fn eval<O: Observer>(&self, reading: &mut Reading<'_, '_>, observer: &mut O) -> Verdict {
        match self {
            Node::All(parts) => {
                let mut verdict = Verdict::True;
                for part in parts {
                    verdict = verdict.all(part.eval(reading, observer));
                    if O::SHORT_CIRCUIT && verdict == Verdict::False {
                        break;
                    }
                }
                verdict
            }
            Node::Any(parts) => {
                let mut verdict = Verdict::False;
                for part in parts {
                    verdict = verdict.any(part.eval(reading, observer));
                    if O::SHORT_CIRCUIT && verdict == Verdict::True {
                        break;
                    }
                }
                verdict
            }
            Node::Not(part) => part.eval(reading, observer).not(),
            Node::Compare(c) => {
                let verdict = reading.verdict(c.predicate);
                if let Some(predicate) = reading.predicates.get(c.predicate) {
                    let read = reading.slots.get(predicate.slot).copied().flatten();
                    observer.compared(&c.path, predicate, read, verdict);
                }
                verdict
            }
        }
    }

    /// The predicates this node requires to be true, if it is a conjunction of
    /// comparisons (pushed onto `out`); `false` if it has an `any` or a `not`.
    pub(crate) fn conjuncts(&self, out: &mut Vec<usize>) -> bool {
        match self {
            Node::All(parts) => parts.iter().all(|part| part.conjuncts(out)),
            Node::Compare(c) => {
                out.push(c.predicate);
                true
            }
            Node::Any(_) | Node::Not(_) => false,
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
        self.fields.with_reading(source, |reading| self.root.eval(reading, observer))
    }

    /// The distinct fields the condition reads, in first-use order.
    pub fn fields(&self) -> impl ExactSizeIterator<Item = &Field> + '_ {
        self.fields.fields.iter()
    }
}
