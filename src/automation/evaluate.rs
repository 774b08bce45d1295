//! The evaluator: an event, the contact's state and a rule set in; the outcomes the
//! rules plan out, each with its result, and the cascade they set off. Pure: no I/O,
//! no clock, nothing changed — the engine stores what it returns.
//!
//! Matching is decided on the state the event found; the outcomes of the rules that
//! match then apply in order (priority, then rule id), each to the state the ones
//! before it left. Every move goes through [`decide`], so an outcome the journey's
//! policy refuses is reported as skipped with the refusal's code, and the others still
//! apply. A move made by an outcome is then evaluated as a `journey_stage_changed`
//! event (a status change also as `enrollment_status_changed`), breadth first, down to
//! the rule set's cascade depth; a rule that would fire a second time in one cascade is
//! stopped there (a cycle), and the chain is reported.

use std::collections::{BTreeMap, VecDeque};

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize, Serializer};

use super::condition::{
    ConditionExplanation, Field, FieldSource, Node, Observer, Quiet, Reading, Tracer, Verdict,
};
use super::event::{Event, EventKind};
use super::rule::{EffectKind, Outcome};
use super::ruleset::{Automations, CompiledRule, Group};
use crate::error::DomainError;
use crate::model::contact::{Contact, EnrollmentStatus};
use crate::model::ids::{
    AttributeKey, ContactId, EffectKey, EventId, IdempotencyKey, JourneyId, PropertyKey, RuleId,
};
use crate::model::transition::{Source, Transition};
use crate::model::value::{Value, ValueRef};
use crate::sequencing::{MembershipState, Move, Target, decide};

/// What the evaluator knows of a contact: its record and where it stands in each
/// journey it is a member of.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ContactState {
    /// The contact's record.
    pub contact: Contact,
    /// Its memberships by journey.
    #[serde(default)]
    pub memberships: BTreeMap<JourneyId, MembershipState>,
}

impl ContactState {
    /// A contact that is a member of no journey.
    pub fn new(contact: Contact) -> Self {
        ContactState { contact, memberships: BTreeMap::new() }
    }

    /// The same state with a membership.
    #[must_use]
    pub fn with_membership(mut self, membership: MembershipState) -> Self {
        self.memberships.insert(membership.journey.clone(), membership);
        self
    }
}

/// An event with the state of its contact: what rules read. `event.*` comes from the
/// event, `contact.*` and `enrollment` from the contact, `stage.<journey>` from its
/// memberships.
#[derive(Clone, Copy, Debug)]
pub struct Facts<'a> {
    /// The event.
    pub event: &'a Event,
    /// The contact's state.
    pub state: &'a ContactState,
}

impl FieldSource for Facts<'_> {
    fn read(&self, field: &Field) -> Option<ValueRef<'_>> {
        read_fact(self.event, self.state, &NO_CHANGES, field)
    }
}

/// What the applied outcomes of an evaluation changed, in the order they applied.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct Changes {
    /// Attributes set, in order (a later value for the same attribute wins).
    pub attributes: Vec<(AttributeKey, Value)>,
    /// The new enrollment status, if it changed.
    pub enrollment: Option<EnrollmentStatus>,
    /// The memberships moved, each at its latest state, in the order first moved.
    pub memberships: Vec<MembershipState>,
}

static NO_CHANGES: Changes = Changes { attributes: Vec::new(), enrollment: None, memberships: Vec::new() };

impl Changes {
    /// Whether nothing changed.
    pub fn is_empty(&self) -> bool {
        self.attributes.is_empty() && self.enrollment.is_none() && self.memberships.is_empty()
    }

    /// `before` with the changes applied.
    pub fn apply(&self, before: &ContactState) -> ContactState {
        let mut after = before.clone();
        for (key, value) in &self.attributes {
            after.contact.attributes.insert(key.clone(), value.clone());
        }
        if let Some(status) = self.enrollment {
            after.contact.enrollment = status;
        }
        for membership in &self.memberships {
            after.memberships.insert(membership.journey.clone(), membership.clone());
        }
        after
    }

    fn attribute<'a>(&'a self, before: &'a ContactState, key: &str) -> Option<&'a Value> {
        match self.attributes.iter().rev().find(|(k, _)| k.as_str() == key) {
            Some((_, value)) => Some(value),
            None => before.contact.attribute(key),
        }
    }

    fn membership<'a>(&'a self, before: &'a ContactState, journey: &str) -> Option<&'a MembershipState> {
        match self.memberships.iter().find(|m| m.journey.as_str() == journey) {
            Some(moved) => Some(moved),
            None => before.memberships.get(journey),
        }
    }

    fn moved(&mut self, membership: MembershipState) {
        match self.memberships.iter_mut().find(|m| m.journey == membership.journey) {
            Some(known) => *known = membership,
            None => self.memberships.push(membership),
        }
    }
}

/// An event with a contact's state and the changes made to it so far.
struct Current<'a> {
    event: &'a Event,
    state: &'a ContactState,
    changes: &'a Changes,
}

impl FieldSource for Current<'_> {
    fn read(&self, field: &Field) -> Option<ValueRef<'_>> {
        read_fact(self.event, self.state, self.changes, field)
    }
}

/// `field` of `event` or of the contact in `state` after `changes`.
fn read_fact<'a>(
    event: &'a Event,
    state: &'a ContactState,
    changes: &'a Changes,
    field: &Field,
) -> Option<ValueRef<'a>> {
    match field {
        Field::Event(name) => event.field(name.as_str()),
        Field::Contact(key) => changes.attribute(state, key.as_str()).map(ValueRef::from),
        Field::Enrollment => {
            Some(ValueRef::String(changes.enrollment.unwrap_or(state.contact.enrollment).as_str()))
        }
        Field::Stage(journey) => {
            changes.membership(state, journey.as_str()).map(|m| ValueRef::String(m.stage.as_str()))
        }
    }
}

/// The idempotency key of processing `event` for `contact`: the engine commits an
/// event's outcomes under it, and the evaluator records it on every transition.
pub fn event_key(contact: &ContactId, event: &EventId) -> IdempotencyKey {
    let (contact, event) = (contact.as_str(), event.as_str());
    let mut key = String::with_capacity(12 + contact.len() + event.len());
    key.push_str("event/");
    push_number(&mut key, contact.len());
    for part in [":", contact, "/", event] {
        key.push_str(part);
    }
    IdempotencyKey::new(&key).unwrap_or_else(|_| {
        // Too long for a key: the ids' hashes stand in for them.
        let hashed = format!("event/{:016x}/{:016x}", fnv1a(contact), fnv1a(event));
        IdempotencyKey::new(hashed).unwrap_or_else(|_| unreachable!("a short printable key"))
    })
}

/// The dedupe key of outcome `index` of `rule` for the event with key `event`.
fn dedupe_key(event: &IdempotencyKey, rule: &RuleId, index: usize) -> String {
    let mut key = String::with_capacity(event.as_str().len() + rule.as_str().len() + 8);
    for part in [event.as_str(), "/", rule.as_str(), "/"] {
        key.push_str(part);
    }
    push_number(&mut key, index);
    key
}

/// Appends `n` in decimal: keys are made per outcome, without the formatting
/// machinery.
fn push_number(key: &mut String, n: usize) {
    let mut digits = [0u8; 20];
    let mut rest = n;
    let mut start = digits.len();
    loop {
        start -= 1;
        digits[start] = b'0' + (rest % 10) as u8;
        rest /= 10;
        if rest == 0 {
            break;
        }
    }
    key.extend(digits[start..].iter().map(|&d| char::from(d)));
}

/// FNV-1a: a fixed, portable hash.
fn fnv1a(text: &str) -> u64 {
    text.bytes()
        .fold(0xcbf2_9ce4_8422_2325, |hash, byte| (hash ^ u64::from(byte)).wrapping_mul(0x0100_0000_01b3))
}

/// An external effect for the host to perform: the crate never performs it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ExternalEffect {
    /// What to do.
    pub kind: EffectKind,
    /// The template, reward or webhook.
    pub key: EffectKey,
    /// Data from the rule.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub data: BTreeMap<PropertyKey, Value>,
    /// The contact.
    pub contact: ContactId,
    /// The rule that asked for it.
    pub rule: RuleId,
    /// The event that set it off (the cascade's first event).
    pub event: EventId,
    /// The same for every evaluation of the same event, contact, rule and outcome:
    /// the host performs an effect once per dedupe key.
    pub dedupe_key: String,
}

/// What became of one outcome.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(tag = "result", rename_all = "snake_case")]
#[non_exhaustive]
pub enum OutcomeResult {
    /// Sequencing accepted the move (a stage move, a journey entry or a status
    /// change's move of the Advocate Enrollment journey).
    Moved {
        /// The transition to store.
        transition: Transition,
    },
    /// An attribute was set.
    AttributeSet {
        /// The attribute.
        attribute: AttributeKey,
        /// Its value before.
        from: Option<Value>,
        /// Its value now.
        to: Value,
    },
    /// An external effect for the host.
    Effect {
        /// The effect.
        effect: ExternalEffect,
    },
    /// Refused: nothing changed, the other outcomes still apply.
    Skipped {
        /// Why, with its code (e.g. `sequence_violation`).
        #[serde(serialize_with = "coded")]
        error: DomainError,
    },
}

/// A domain error as `{"code": …, "message": …}`.
fn coded<S: Serializer>(error: &DomainError, serializer: S) -> Result<S::Ok, S::Error> {
    #[derive(Serialize)]
    struct Coded<'a> {
        code: &'a str,
        message: String,
    }
    Coded { code: error.code(), message: error.to_string() }.serialize(serializer)
}

impl OutcomeResult {
    /// Whether the outcome applied (anything but [`OutcomeResult::Skipped`]).
    pub fn applied(&self) -> bool {
        !matches!(self, OutcomeResult::Skipped { .. })
    }
}

/// One outcome of a rule that fired, with its result.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct OutcomeReport {
    /// The outcome's position in the rule.
    pub index: usize,
    /// The outcome's action, e.g. `move_to_stage`.
    pub action: &'static str,
    /// What became of it.
    pub result: OutcomeResult,
}

/// A rule that fired on an event.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Firing {
    /// The rule.
    pub rule: RuleId,
    /// Its outcomes, in order.
    pub outcomes: Vec<OutcomeReport>,
}

/// Which outcome set off a cascaded event.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Cause {
    /// The step whose outcome it was (`None`: the event evaluated).
    pub step: Option<usize>,
    /// The rule.
    pub rule: RuleId,
    /// The outcome's position in the rule.
    pub outcome: usize,
}

/// An event a cascade evaluated: made by an outcome, carrying the first event's id.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct CascadeStep {
    /// 1 for events made by the first event's outcomes, and so on.
    pub depth: u32,
    /// The outcome that made it.
    pub cause: Cause,
    /// The event.
    pub event: Event,
    /// The rules it set off.
    pub fired: Vec<Firing>,
}

/// Where a cascade was cut short.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(tag = "stop", rename_all = "snake_case")]
#[non_exhaustive]
pub enum CascadeStop {
    /// An event made at this depth was not evaluated: the cascade reached its limit.
    DepthLimit {
        /// The depth the event would have had.
        depth: u32,
        /// The outcome that made it.
        cause: Cause,
        /// The event.
        event: Event,
    },
    /// A rule matched again within one cascade; its outcomes did not apply again.
    Cycle {
        /// The rule.
        rule: RuleId,
        /// The step whose event it matched (`None`: the first event).
        step: Option<usize>,
    },
}

/// What evaluating an event plans out.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Evaluation {
    /// The event.
    pub event: EventId,
    /// Its contact.
    pub contact: ContactId,
    /// The rules the event fired, in order, with their outcomes.
    pub fired: Vec<Firing>,
    /// The events the outcomes made, in the order they were evaluated.
    pub cascade: Vec<CascadeStep>,
    /// Where the cascade was cut short.
    pub stops: Vec<CascadeStop>,
    /// What the applied outcomes changed.
    pub changes: Changes,
}

impl Evaluation {
    /// The contact's state after every applied outcome, from the state it was
    /// evaluated on; `None` if nothing changed it.
    pub fn state_after(&self, before: &ContactState) -> Option<ContactState> {
        (!self.changes.is_empty()).then(|| self.changes.apply(before))
    }

    /// Every rule that fired and its outcomes, the first event's then the cascade's.
    pub fn firings(&self) -> impl Iterator<Item = &Firing> {
        self.fired.iter().chain(self.cascade.iter().flat_map(|step| &step.fired))
    }

    /// Every outcome's result, in order.
    pub fn results(&self) -> impl Iterator<Item = &OutcomeResult> {
        self.firings().flat_map(|firing| firing.outcomes.iter().map(|report| &report.result))
    }

    /// The transitions to store, in order.
    pub fn transitions(&self) -> impl Iterator<Item = &Transition> {
        self.results().filter_map(|result| match result {
            OutcomeResult::Moved { transition } => Some(transition),
            _ => None,
        })
    }

    /// The external effects for the host, in order.
    pub fn effects(&self) -> impl Iterator<Item = &ExternalEffect> {
        self.results().filter_map(|result| match result {
            OutcomeResult::Effect { effect } => Some(effect),
            _ => None,
        })
    }
}

/// Why a rule did or did not fire on an event.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct RuleExplanation {
    /// The rule.
    pub rule: RuleId,
    /// Whether it is enabled (a disabled rule is not evaluated).
    pub enabled: bool,
    /// Whether the event is of the trigger's type and its filters hold.
    pub trigger_matched: bool,
    /// The trigger's filters, each with what it read (when the type matched).
    pub trigger: Option<ConditionExplanation>,
    /// The scope's verdict (when the type matched and the rule has a scope).
    pub scope: Option<ConditionExplanation>,
    /// The conditions' verdict (when the type matched and the rule has conditions).
    pub conditions: Option<ConditionExplanation>,
    /// Whether the rule fired.
    pub fired: bool,
    /// The outcomes it applied, with their results.
    pub outcomes: Vec<OutcomeReport>,
}

/// A dry run of one event: every rule's verdict and the evaluation, with no side
/// effects.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Explanation {
    /// Every rule, in evaluation order.
    pub rules: Vec<RuleExplanation>,
    /// What evaluating the event plans out.
    pub evaluation: Evaluation,
}

/// A cascade in progress: the state so far and the rules fired.
struct Run<'s> {
    root: &'s Event,
    /// The event's idempotency key, made when an outcome first needs it.
    key: Option<IdempotencyKey>,
    now: DateTime<Utc>,
    state: &'s ContactState,
    changes: Changes,
    /// Positions of the rules fired so far.
    fired: Vec<usize>,
    pending: VecDeque<(u32, Cause, Event)>,
    stops: Vec<CascadeStop>,
}

impl CompiledRule {
    /// Whether trigger filters, scope and conditions all hold.
    pub(crate) fn holds(&self, reading: &mut Reading<'_, '_>) -> bool {
        let [t, s, c] = self.judge(reading, [&mut Quiet, &mut Quiet, &mut Quiet]);
        t.holds() && s.holds() && c.holds()
    }

    /// The verdicts of trigger filters, scope and conditions, stopping at the first
    /// that fails when the observers do.
    fn judge<O: Observer>(&self, reading: &mut Reading<'_, '_>, observers: [&mut O; 3]) -> [Verdict; 3] {
        let [trigger, scope, conditions] = observers;
        let mut check = |node: &Option<Node>, observer: &mut O| {
            node.as_ref().map_or(Verdict::True, |n| n.eval(reading, observer))
        };
        let t = check(&self.trigger, trigger);
        if O::SHORT_CIRCUIT && t != Verdict::True {
            return [t, Verdict::False, Verdict::False];
        }
        let s = check(&self.scope, scope);
        if O::SHORT_CIRCUIT && s != Verdict::True {
            return [t, s, Verdict::False];
        }
        [t, s, check(&self.conditions, conditions)]
    }
}

impl Automations {
    /// Evaluates `event` for the contact in `state`, as of `now` (the moves'
    /// `recorded_at`; they happen at the event's `occurred_at`). See the
    /// [module docs](self) for the order, sequencing and cascades.
    pub fn evaluate(&self, event: &Event, state: &ContactState, now: DateTime<Utc>) -> Evaluation {
        let mut run = Run {
            root: event,
            key: None,
            now,
            state,
            changes: Changes::default(),
            fired: Vec::new(),
            pending: VecDeque::new(),
            stops: Vec::new(),
        };
        let fired = self.step(event, 0, None, &mut run);
        let mut cascade = Vec::new();
        while let Some((depth, cause, next)) = run.pending.pop_front() {
            let fired = self.step(&next, depth, Some(cascade.len()), &mut run);
            cascade.push(CascadeStep { depth, cause, event: next, fired });
        }
        Evaluation {
            event: event.id.clone(),
            contact: event.contact.clone(),
            fired,
            cascade,
            stops: run.stops,
            changes: run.changes,
        }
    }

    /// A dry run: [`evaluate`](Self::evaluate) plus every rule's verdict on `event`,
    /// each comparison with the value it read.
    pub fn explain(&self, event: &Event, state: &ContactState, now: DateTime<Utc>) -> Explanation {
        let evaluation = self.evaluate(event, state, now);
        let group = self.group(event);
        let facts = Facts { event, state };
        let rules = group.fields.with_reading(&facts, |reading| {
            self.rules
                .iter()
                .enumerate()
                .map(|(order, rule)| {
                    let compiled = group.rules.iter().find(|c| c.order == order);
                    let outcomes = evaluation
                        .fired
                        .iter()
                        .find(|firing| firing.rule == rule.id)
                        .map(|firing| firing.outcomes.clone())
                        .unwrap_or_default();
                    let mut explanation = RuleExplanation {
                        rule: rule.id.clone(),
                        enabled: rule.enabled,
                        trigger_matched: false,
                        trigger: None,
                        scope: None,
                        conditions: None,
                        fired: !outcomes.is_empty(),
                        outcomes,
                    };
                    if let Some(compiled) = compiled {
                        let mut tracers =
                            [(); 3].map(|()| Tracer { fields: &group.fields, trace: Vec::new() });
                        let [t, s, c] = {
                            let [a, b, d] = &mut tracers;
                            compiled.judge(reading, [a, b, d])
                        };
                        let [tt, st, ct] = tracers.map(|tracer| tracer.trace);
                        let explained = |verdict, comparisons| ConditionExplanation { verdict, comparisons };
                        explanation.trigger_matched = t.holds();
                        explanation.trigger = Some(explained(t, tt));
                        explanation.scope = compiled.scope.as_ref().map(|_| explained(s, st));
                        explanation.conditions = compiled.conditions.as_ref().map(|_| explained(c, ct));
                    }
                    explanation
                })
                .collect()
        });
        Explanation { rules, evaluation }
    }

    /// Evaluates one event of a cascade: matches on the state as it is, then applies
    /// the outcomes of the rules that match, queueing the events their moves make.
    fn step(&self, event: &Event, depth: u32, step: Option<usize>, run: &mut Run<'_>) -> Vec<Firing> {
        let group: &Group = self.group(event);
        let facts = Current { event, state: run.state, changes: &run.changes };
        let matched = group.fields.with_reading(&facts, |reading| group.matching(reading));
        let mut firings = Vec::new();
        for compiled in matched {
            if run.fired.contains(&compiled.order) {
                run.stops.push(CascadeStop::Cycle { rule: compiled.rule.id.clone(), step });
                continue;
            }
            run.fired.push(compiled.order);
            let rule = &compiled.rule;
            let outcomes = rule
                .outcomes
                .iter()
                .enumerate()
                .map(|(index, outcome)| {
                    let result = self.apply(&rule.id, index, outcome, event, run);
                    if let OutcomeResult::Moved { transition } = &result {
                        let cause = Cause { step, rule: rule.id.clone(), outcome: index };
                        self.cascade(depth + 1, cause, transition, outcome, run);
                    }
                    OutcomeReport { index, action: outcome.action(), result }
                })
                .collect();
            firings.push(Firing { rule: rule.id.clone(), outcomes });
        }
        firings
    }

    /// Queues the events a move makes, or records that the cascade stops here.
    fn cascade(
        &self,
        depth: u32,
        cause: Cause,
        transition: &Transition,
        outcome: &Outcome,
        run: &mut Run<'_>,
    ) {
        let made =
            |kind| Event::new(run.root.id.clone(), run.root.contact.clone(), transition.occurred_at, kind);
        let mut events = vec![made(EventKind::JourneyStageChanged {
            journey: transition.journey.clone(),
            from: transition.from.clone(),
            to: transition.to.clone(),
        })];
        if let Outcome::SetEnrollmentStatus { status } = outcome {
            let from = transition.from.as_ref().and_then(|from| EnrollmentStatus::from_key(from.as_str()));
            events.push(made(EventKind::EnrollmentStatusChanged { from, to: *status }));
        }
        for event in events {
            if depth > self.max_depth {
                run.stops.push(CascadeStop::DepthLimit { depth, cause: cause.clone(), event });
            } else {
                run.pending.push_back((depth, cause.clone(), event));
            }
        }
    }

    /// Applies one outcome to the run's state: a move through [`decide`], an attribute,
    /// or an effect for the host.
    fn apply(
        &self,
        rule: &RuleId,
        index: usize,
        outcome: &Outcome,
        event: &Event,
        run: &mut Run<'_>,
    ) -> OutcomeResult {
        let root = run.root;
        let contact = &root.contact;
        if let Outcome::SetAttribute { attribute, value } = outcome {
            let from = run.changes.attribute(run.state, attribute.as_str()).cloned();
            run.changes.attributes.push((attribute.clone(), value.clone()));
            return OutcomeResult::AttributeSet { attribute: attribute.clone(), from, to: value.clone() };
        }
        let event_key = run.key.get_or_insert_with(|| event_key(contact, &root.id)).clone();
        let request = |target| Move {
            contact: contact.clone(),
            target,
            occurred_at: event.occurred_at,
            recorded_at: run.now,
            source: Source::automation(rule.clone()),
            touchpoint: None,
            idempotency_key: Some(event_key.clone()),
        };
        let (journey, request) = match outcome {
            Outcome::MoveToStage { journey, stage } => (journey, request(Target::Stage(stage.clone()))),
            Outcome::EnterJourney { journey } => {
                let first = self.journeys.get(journey).map(|j| j.first_stage().key().clone());
                match first {
                    Some(first) => (journey, request(Target::Stage(first))),
                    None => return unknown_journey(journey),
                }
            }
            Outcome::SetEnrollmentStatus { status } => {
                let mut status_move = request(Target::EnrollmentStatus(*status));
                status_move.source = Source::enrollment_status();
                (self.system.id(), status_move)
            }
            external => {
                let Some((kind, key, data)) = external.effect() else {
                    unreachable!("every other outcome is an effect")
                };
                return OutcomeResult::Effect {
                    effect: ExternalEffect {
                        kind,
                        key: key.clone(),
                        data: data.clone(),
                        contact: contact.clone(),
                        rule: rule.clone(),
                        event: run.root.id.clone(),
                        dedupe_key: dedupe_key(&event_key, rule, index),
                    },
                };
            }
        };
        let Some(definition) = self.journeys.get(journey) else {
            return unknown_journey(journey);
        };
        match decide(definition, run.changes.membership(run.state, journey.as_str()), &request) {
            Ok(transition) => {
                if let Target::EnrollmentStatus(status) = request.target {
                    run.changes.enrollment = Some(status);
                }
                run.changes.moved(MembershipState::after(&transition));
                OutcomeResult::Moved { transition }
            }
            Err(error) => OutcomeResult::Skipped { error },
        }
    }
}

/// A journey the rule set was not given (rule sets are checked on load, so only a
/// journey missing from the host's state reaches here).
fn unknown_journey(journey: &JourneyId) -> OutcomeResult {
    OutcomeResult::Skipped { error: DomainError::UnknownJourney { journey: journey.to_string() } }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn event_keys_name_contact_and_event_unambiguously_and_stay_short() {
        let key = |c: &str, e: &str| event_key(&c.parse().unwrap(), &e.parse().unwrap()).to_string();
        assert_eq!(key("ada", "evt-1"), "event/3:ada/evt-1");
        assert_ne!(key("a/b", "c"), key("a", "b/c"));
        let long = "x".repeat(120);
        let hashed = key(&long, &long);
        assert!(hashed.starts_with("event/") && hashed.len() < 64, "{hashed}");
        assert_ne!(hashed, key(&long, &"y".repeat(120)));
    }

    #[test]
    fn dedupe_keys_end_with_the_outcome_index() {
        let event = event_key(&"ada".parse().unwrap(), &"e".parse().unwrap());
        assert_eq!(dedupe_key(&event, &"r".parse().unwrap(), 0), "event/3:ada/e/r/0");
        assert_eq!(dedupe_key(&event, &"r".parse().unwrap(), 1207), "event/3:ada/e/r/1207");
    }
}
