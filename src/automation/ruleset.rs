//! [`Automations`]: a rule set checked against the journeys it names and compiled
//! for evaluation — rules indexed by trigger, conditions turned into slot lookups.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::Arc;

use super::condition::{Condition, Field, FieldTable, Node, Op, Reading, Verdict};
use super::event::{Event, EventKind, EventType, FieldType};
use super::rule::{Outcome, Rule, Scope};
use crate::error::DomainError;
use crate::model::contact::EnrollmentStatus;
use crate::model::ids::{EventName, JourneyId, Name, RuleId};
use crate::model::journey::Journey;
use crate::model::value::Value;
use crate::segment::Segment;

/// How deep a cascade goes unless set with [`Automations::with_max_depth`]: a stage
/// change made by an outcome is evaluated as an event, and so on, this many times.
pub const DEFAULT_CASCADE_DEPTH: u32 = 8;

/// A checked rule set, ready to evaluate events.
///
/// Built by [`Automations::new`] from rules (typically loaded from JSON) and the
/// journeys they name. Rules run in a fixed order — higher `priority` first, then by
/// `id` — whatever order they were given in.
///
/// ```
/// use journeys::automation::{Automations, Rule};
/// use journeys::{Journey, SequencePolicy, Stage};
/// let referral = Journey::new("referral", "Referral", SequencePolicy::RequiresSequence,
///     [Stage::new("lead", "Lead")?, Stage::new("demo", "Demo")?])?;
/// let rules: Vec<Rule> = serde_json::from_str(r#"[{
///     "id": "demo-booked", "name": "Demo booked",
///     "trigger": {"event": "custom", "name": "demo_booked"},
///     "outcomes": [{"action": "move_to_stage", "journey": "referral", "stage": "demmo"}]
/// }]"#)?;
/// let err = Automations::new(rules, [referral]).unwrap_err();
/// assert_eq!(err.code(), "invalid_rule");
/// assert!(err.to_string().contains("/outcomes/0/stage"), "{err}");
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone, Debug)]
pub struct Automations {
    /// Every rule, in evaluation order.
    pub(crate) rules: Vec<Arc<Rule>>,
    pub(crate) journeys: BTreeMap<JourneyId, Arc<Journey>>,
    pub(crate) system: Arc<Journey>,
    /// The enabled rules per built-in event type, by [`EventType`] position.
    builtin: Vec<Group>,
    /// The enabled rules per custom event name (rules on every custom event included).
    custom: HashMap<EventName, Group, foldhash::fast::RandomState>,
    /// The enabled rules on every custom event, for names no rule names.
    custom_other: Group,
    pub(crate) max_depth: u32,
}

/// The rules one kind of event can set off, compiled over one field table: an event
/// reads each field the group uses once.
#[derive(Clone, Debug, Default)]
pub(crate) struct Group {
    pub(crate) fields: FieldTable,
    pub(crate) rules: Vec<CompiledRule>,
    /// The rules whose trigger filters, scope and conditions are one conjunction of
    /// comparisons, as a bit set over `rules`: they match when each comparison holds.
    conjunctive: Vec<u64>,
    /// Per row, the conjunctive rules that need predicate `rows[row]` to hold: a bit
    /// set of `conjunctive.len()` words each, one row after the other.
    needs: Vec<u64>,
    /// The predicates conjunctive rules need, most needed first.
    rows: Vec<usize>,
    /// The other rules (with an `any` or a `not`), evaluated as trees.
    general: Vec<usize>,
}

/// Up to this many 64-rule words, matching keeps its bit set on the stack.
const WORDS_ON_STACK: usize = 4;

/// A rule's checks, compiled into its group's slots.
#[derive(Clone, Debug)]
pub(crate) struct CompiledRule {
    /// The rule's position in evaluation order.
    pub(crate) order: usize,
    pub(crate) rule: Arc<Rule>,
    /// The trigger's filters (`None`: none).
    pub(crate) trigger: Option<Node>,
    /// The scope as a condition (`None`: global).
    pub(crate) scope: Option<Node>,
    pub(crate) conditions: Option<Node>,
}

/// Which group an event or a rule belongs to.
enum GroupKey<'a> {
    Builtin(EventType),
    Custom(Option<&'a EventName>),
}

impl Automations {
    /// Checks `rules` against `journeys` (the journeys they name; the Advocate
    /// Enrollment journey is known without being given) and compiles them.
    ///
    /// # Errors
    /// [`DomainError::InvalidRule`] naming the rule and the JSON pointer of the
    /// offending field within it, with the cause: `duplicate_rule` (at `/id`),
    /// `unknown_journey`, `unknown_stage`, `system_journey` (a move into the system
    /// journey), `type_mismatch` (a trigger filter or comparison of the wrong type),
    /// `empty_condition`, `invalid_operand`, `invalid_id` or `invalid_value` (no
    /// outcomes, an unknown status).
    pub fn new<J: Into<Arc<Journey>>>(
        rules: impl IntoIterator<Item = Rule>,
        journeys: impl IntoIterator<Item = J>,
    ) -> Result<Self, DomainError> {
        Self::with_segments(rules, journeys, [])
    }

    /// As [`new`](Self::new), with the named segments a rule's scope may name
    /// (`{"in_segment": name}`).
    ///
    /// # Errors
    /// As [`new`](Self::new); `unknown_segment` (at `/scope/in_segment`) for a scope
    /// naming a segment not given.
    ///
    /// ```
    /// use journeys::automation::{Automations, Rule};
    /// use journeys::segment::Segment;
    /// let gold: Segment = serde_json::from_str(
    ///     r#"{"name": "Gold", "condition": {"field": "contact.plan", "op": "eq", "value": "gold"}}"#)?;
    /// let rules: Vec<Rule> = serde_json::from_str(r#"[{"id": "thanks", "name": "Thank gold customers",
    ///     "scope": {"in_segment": "Gold"}, "trigger": {"event": "order_created"},
    ///     "outcomes": [{"action": "send_email", "template": "thanks"}]}]"#)?;
    /// let journeys: [journeys::Journey; 0] = [];
    /// assert!(Automations::with_segments(rules.clone(), journeys.clone(), [gold]).is_ok());
    /// let Err(journeys::DomainError::InvalidRule { path, cause, .. }) = Automations::new(rules, journeys) else {
    ///     panic!("a scope naming a segment not given is refused");
    /// };
    /// assert_eq!((path.as_str(), cause.code()), ("/scope/in_segment", "unknown_segment"));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn with_segments<J: Into<Arc<Journey>>>(
        rules: impl IntoIterator<Item = Rule>,
        journeys: impl IntoIterator<Item = J>,
        segments: impl IntoIterator<Item = Segment>,
    ) -> Result<Self, DomainError> {
        let segments: BTreeMap<Name, Segment> = segments.into_iter().map(|s| (s.name().clone(), s)).collect();
        let system = Arc::new(Journey::advocate_enrollment());
        let mut known: BTreeMap<JourneyId, Arc<Journey>> =
            journeys.into_iter().map(|j| j.into()).map(|j| (j.id().clone(), j)).collect();
        known.insert(system.id().clone(), Arc::clone(&system));
        let mut ids = BTreeSet::new();
        let mut checked: Vec<Arc<Rule>> = Vec::new();
        for rule in rules {
            if !ids.insert(rule.id.clone()) {
                let cause = DomainError::DuplicateRule { rule: rule.id.clone() };
                return Err(invalid_rule(&rule, "/id", cause));
            }
            check_outcomes(&rule, &known)?;
            checked.push(Arc::new(rule));
        }
        let mut rules = checked;
        rules.sort_by(|a, b| b.priority.cmp(&a.priority).then_with(|| a.id.cmp(&b.id)));

        let named: BTreeSet<EventName> = rules.iter().filter_map(|r| custom_name(r).ok().flatten()).collect();
        let mut automations = Automations {
            builtin: EventType::ALL.iter().map(|_| Group::default()).collect(),
            custom: named.into_iter().map(|name| (name, Group::default())).collect(),
            custom_other: Group::default(),
            rules: Vec::new(),
            journeys: known,
            system,
            max_depth: DEFAULT_CASCADE_DEPTH,
        };
        for (order, rule) in rules.iter().enumerate() {
            let name = custom_name(rule)?;
            if !rule.enabled {
                // Checked like the others, never evaluated.
                Group::default().add(order, rule, &automations.journeys, &segments)?;
                continue;
            }
            let key = match rule.trigger.event {
                EventType::Custom => GroupKey::Custom(name.as_ref()),
                builtin => GroupKey::Builtin(builtin),
            };
            match key {
                GroupKey::Builtin(event) => {
                    automations.builtin[event as usize].add(order, rule, &automations.journeys, &segments)?
                }
                GroupKey::Custom(Some(name)) => {
                    if let Some(group) = automations.custom.get_mut(name) {
                        group.add(order, rule, &automations.journeys, &segments)?;
                    }
                }
                GroupKey::Custom(None) => {
                    automations.custom_other.add(order, rule, &automations.journeys, &segments)?;
                    for group in automations.custom.values_mut() {
                        group.add(order, rule, &automations.journeys, &segments)?;
                    }
                }
            }
        }
        automations.builtin.iter_mut().for_each(Group::index);
        automations.custom.values_mut().for_each(Group::index);
        automations.custom_other.index();
        automations.rules = rules;
        Ok(automations)
    }

    /// The same rule set with cascades cut off after `depth` levels.
    #[must_use]
    pub fn with_max_depth(mut self, depth: u32) -> Self {
        self.max_depth = depth;
        self
    }

    /// Every rule, in evaluation order (higher priority first, then by id).
    pub fn rules(&self) -> impl ExactSizeIterator<Item = &Rule> + '_ {
        self.rules.iter().map(|rule| &**rule)
    }

    /// The enabled rules an event of this kind is evaluated against, in order.
    pub fn candidates<'a>(&'a self, event: &Event) -> impl Iterator<Item = &'a RuleId> + 'a {
        self.group(event).rules.iter().map(|compiled| &compiled.rule.id)
    }

    /// The group an event's rules are in.
    pub(crate) fn group(&self, event: &Event) -> &Group {
        match &event.kind {
            EventKind::Custom { name } => self.custom.get(name).unwrap_or(&self.custom_other),
            other => &self.builtin[other.event_type() as usize],
        }
    }
}

fn invalid_rule(rule: &Rule, path: &str, cause: DomainError) -> DomainError {
    DomainError::InvalidRule { rule: rule.id.to_string(), path: path.to_owned(), cause: Box::new(cause) }
}

/// A condition error at `prefix` as a rule error with the full pointer.
fn in_rule(rule: &Rule, prefix: &str, error: DomainError) -> DomainError {
    match error {
        DomainError::InvalidCondition { path, cause } => {
            invalid_rule(rule, &format!("{prefix}{path}"), *cause)
        }
        other => invalid_rule(rule, prefix, other),
    }
}

/// The custom event name a rule's trigger names, if it names one.
fn custom_name(rule: &Rule) -> Result<Option<EventName>, DomainError> {
    if rule.trigger.event != EventType::Custom {
        return Ok(None);
    }
    match rule.trigger.filters.get("name") {
        None => Ok(None),
        Some(Value::String(name)) => {
            EventName::new(name).map(Some).map_err(|cause| invalid_rule(rule, "/trigger/name", cause))
        }
        Some(other) => Err(invalid_rule(
            rule,
            "/trigger/name",
            DomainError::TypeMismatch { op: Op::Eq.as_str(), expected: "string", found: other.type_name() },
        )),
    }
}

/// Who may be named where: outcomes never move the system journey.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Named {
    AnyJourney,
    CustomJourney,
}

/// The journey `id` names, checked.
fn named_journey<'j>(
    rule: &Rule,
    known: &'j BTreeMap<JourneyId, Arc<Journey>>,
    id: &str,
    path: &str,
    named: Named,
) -> Result<&'j Journey, DomainError> {
    let journey = known
        .get(id)
        .ok_or_else(|| invalid_rule(rule, path, DomainError::UnknownJourney { journey: id.to_owned() }))?;
    if named == Named::CustomJourney && journey.is_system() {
        return Err(invalid_rule(rule, path, DomainError::SystemJourney { journey: journey.id().clone() }));
    }
    Ok(journey)
}

fn check_outcomes(rule: &Rule, known: &BTreeMap<JourneyId, Arc<Journey>>) -> Result<(), DomainError> {
    if rule.outcomes.is_empty() {
        let cause = DomainError::InvalidValue {
            field: "outcomes",
            value: "[]".into(),
            reason: "a rule needs an outcome",
        };
        return Err(invalid_rule(rule, "/outcomes", cause));
    }
    for (i, outcome) in rule.outcomes.iter().enumerate() {
        let (journey, stage) = match outcome {
            Outcome::MoveToStage { journey, stage } => (journey, Some(stage)),
            Outcome::EnterJourney { journey } => (journey, None),
            Outcome::SetEnrollmentStatus { .. }
            | Outcome::SetAttribute { .. }
            | Outcome::SendEmail { .. }
            | Outcome::CreateReward { .. }
            | Outcome::ApproveReward { .. }
            | Outcome::CallWebhook { .. } => continue,
        };
        let path = format!("/outcomes/{i}/journey");
        let found = named_journey(rule, known, journey.as_str(), &path, Named::CustomJourney)?;
        if let Some(stage) = stage.filter(|stage| found.stage(stage.as_str()).is_none()) {
            let cause = DomainError::UnknownStage { journey: journey.clone(), stage: stage.to_string() };
            return Err(invalid_rule(rule, &format!("/outcomes/{i}/stage"), cause));
        }
    }
    Ok(())
}

/// Checks a trigger's filters: each of the field's type, naming a known journey,
/// stage or status.
fn check_filters(rule: &Rule, known: &BTreeMap<JourneyId, Arc<Journey>>) -> Result<(), DomainError> {
    let event = rule.trigger.event;
    let filters = &rule.trigger.filters;
    let text = |key: &str| match filters.get(key) {
        Some(Value::String(s)) => Some(s.as_str()),
        _ => None,
    };
    for (key, value) in filters {
        let path = format!("/trigger/{key}");
        if let FieldType::Known(expected) = event.field_type(key.as_str()) {
            if value.value_type() != expected {
                let cause = DomainError::TypeMismatch {
                    op: Op::Eq.as_str(),
                    expected: expected.name(),
                    found: value.type_name(),
                };
                return Err(invalid_rule(rule, &path, cause));
            }
        }
        let Some(name) = text(key.as_str()) else { continue };
        match (event, key.as_str()) {
            (EventType::JourneyStageChanged, "journey") => {
                named_journey(rule, known, name, &path, Named::AnyJourney)?;
            }
            (EventType::JourneyStageChanged, "from" | "to") => {
                if let Some(found) = text("journey").and_then(|j| known.get(j)) {
                    if found.stage(name).is_none() {
                        let cause =
                            DomainError::UnknownStage { journey: found.id().clone(), stage: name.to_owned() };
                        return Err(invalid_rule(rule, &path, cause));
                    }
                }
            }
            (EventType::EnrollmentStatusChanged, "from" | "to")
                if EnrollmentStatus::from_key(name).is_none() =>
            {
                let cause = DomainError::InvalidValue {
                    field: "status",
                    value: name.to_owned(),
                    reason: "is not a status",
                };
                return Err(invalid_rule(rule, &path, cause));
            }
            _ => {}
        }
    }
    Ok(())
}

impl Group {
    /// Indexes the conjunctive rules by the predicates they need.
    fn index(&mut self) {
        let words = self.rules.len().div_ceil(64);
        self.conjunctive = vec![0; words];
        self.needs = vec![0; words * self.fields.predicate_count()];
        self.general.clear();
        for (i, rule) in self.rules.iter().enumerate() {
            let mut needed = Vec::new();
            let parts = [&rule.trigger, &rule.scope, &rule.conditions];
            if parts.into_iter().flatten().all(|node| node.conjuncts(&mut needed)) {
                self.conjunctive[i / 64] |= 1 << (i % 64);
                for predicate in needed {
                    if let Some(word) = self.needs.get_mut(predicate * words + i / 64) {
                        *word |= 1 << (i % 64);
                    }
                }
            } else {
                self.general.push(i);
            }
        }
        // Decide first the comparisons most rules need: a false one rules out the
        // most rules at once, so fewer of the rest are decided at all.
        let popularity = |row: &[u64]| row.iter().map(|w| w.count_ones()).sum::<u32>();
        let mut rows: Vec<usize> = (0..self.fields.predicate_count())
            .filter(|&p| popularity(&self.needs[p * words..(p + 1) * words]) > 0)
            .collect();
        rows.sort_by_key(|&p| std::cmp::Reverse(popularity(&self.needs[p * words..(p + 1) * words])));
        self.needs = rows.iter().flat_map(|&p| self.needs[p * words..(p + 1) * words].to_vec()).collect();
        self.rows = rows;
    }

    /// The rules whose trigger filters, scope and conditions all hold on `reading`, in
    /// order. Each distinct comparison is decided once, and only while a rule that
    /// needs it is still alive.
    pub(crate) fn matching(&self, reading: &mut Reading<'_, '_>) -> Vec<&CompiledRule> {
        let words = self.conjunctive.len();
        let mut on_stack = [0u64; WORDS_ON_STACK];
        let mut on_heap: Vec<u64>;
        let alive = if words <= WORDS_ON_STACK {
            &mut on_stack[..words]
        } else {
            on_heap = vec![0; words];
            &mut on_heap[..]
        };
        alive.copy_from_slice(&self.conjunctive);
        if words == 1 {
            // Up to 64 rules, the common case: one word, no inner loops.
            let mut live = alive[0];
            for (&predicate, need) in self.rows.iter().zip(&self.needs) {
                if live == 0 {
                    break;
                }
                if need & live != 0 && reading.verdict(predicate) != Verdict::True {
                    live &= !need;
                }
            }
            alive[0] = live;
        } else if words > 1 {
            for (&predicate, needs) in self.rows.iter().zip(self.needs.chunks_exact(words)) {
                let wanted = needs.iter().zip(alive.iter()).any(|(need, live)| need & live != 0);
                if wanted && reading.verdict(predicate) != Verdict::True {
                    alive.iter_mut().zip(needs).for_each(|(live, need)| *live &= !need);
                }
            }
        }
        for &i in &self.general {
            if self.rules.get(i).is_some_and(|rule| rule.holds(reading)) {
                alive[i / 64] |= 1 << (i % 64);
            }
        }
        let count = alive.iter().map(|w| w.count_ones() as usize).sum();
        let mut matched = Vec::with_capacity(count);
        for (w, word) in alive.iter().enumerate() {
            let mut bits = *word;
            while bits != 0 {
                matched.extend(self.rules.get(w * 64 + bits.trailing_zeros() as usize));
                bits &= bits - 1;
            }
        }
        matched
    }

    /// Compiles `rule` into this group and appends it (rules come in evaluation
    /// order).
    fn add(
        &mut self,
        order: usize,
        rule: &Arc<Rule>,
        known: &BTreeMap<JourneyId, Arc<Journey>>,
        segments: &BTreeMap<Name, Segment>,
    ) -> Result<(), DomainError> {
        check_filters(rule, known)?;
        let event = rule.trigger.event;
        let types = |field: &Field| match field {
            Field::Event(name) => match event.field_type(name.as_str()) {
                FieldType::Known(ty) => Some(ty),
                FieldType::Any | FieldType::Property => None,
            },
            other => other.fixed_type(),
        };
        let fields = &mut self.fields;
        let mut compile = |condition: &Condition, prefix: &str| {
            Node::compile(condition, fields, &types, &mut String::new()).map_err(|e| in_rule(rule, prefix, e))
        };
        // A named custom rule sits in the group of its name: the name filter holds.
        let filters = rule
            .trigger
            .filters
            .iter()
            .filter(|(key, _)| !(event == EventType::Custom && key.as_str() == "name"))
            .map(|(key, value)| {
                compile(
                    &Condition::compare(Field::Event(key.clone()), Op::Eq, value.clone()),
                    &format!("/trigger/{key}"),
                )
            })
            .collect::<Result<Vec<_>, _>>()?;
        let trigger = (!filters.is_empty()).then(|| Node::All(filters.into()));
        let scope = match &rule.scope {
            Scope::Global => None,
            Scope::Segment(condition) => Some(compile(condition, "/scope/segment")?),
            Scope::InSegment(name) => {
                let segment = segments.get(name).ok_or_else(|| {
                    invalid_rule(
                        rule,
                        "/scope/in_segment",
                        DomainError::UnknownSegment { segment: name.to_string() },
                    )
                })?;
                Some(compile(segment.condition(), "/scope/in_segment")?)
            }
            Scope::EnrolledIn(id) => {
                named_journey(rule, known, id.as_str(), "/scope/enrolled_in", Named::AnyJourney)?;
                Some(compile(&Condition::exists(Field::Stage(id.clone())), "/scope/enrolled_in")?)
            }
        };
        let conditions = rule.conditions.as_ref().map(|c| compile(c, "/conditions")).transpose()?;
        self.rules.push(CompiledRule { order, rule: Arc::clone(rule), trigger, scope, conditions });
        Ok(())
    }
}
