//! Automations in the engine: an event processed end to end — load the contact's
//! state, evaluate, store every move and attribute change in one commit under the
//! event's idempotency key — with per-rule counters.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, PoisonError, RwLock};

use indexmap::IndexMap;
use serde::{Deserialize, Serialize};

use super::{JourneyEngine, is_retryable};
use crate::automation::{
    Automations, CascadeStop, ContactState, Evaluation, Event, Explanation, ExternalEffect, OutcomeResult,
    Rule, event_key,
};
use crate::clock::Clock;
use crate::error::Error;
use crate::model::ids::{JourneyId, RuleId};
use crate::model::journey::Journey;
use crate::model::transition::Transition;
use crate::repository::{Append, Commit, ContactWrite, Repository};
use crate::sequencing::replay;

/// How often a rule was evaluated and what came of it, since the engine started.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct RuleCounters {
    /// Events of the rule's trigger type it was evaluated on.
    pub evaluated: u64,
    /// Times its trigger, scope and conditions all held (a cycle stop included).
    pub matched: u64,
    /// Outcomes that applied and were stored (or returned, for effects).
    pub applied: u64,
    /// Outcomes refused (by sequencing, or by a cycle stop).
    pub skipped: u64,
    /// Outcomes that applied but whose commit failed.
    pub failed: u64,
}

/// The rule set an engine runs and its counters.
#[derive(Debug, Default)]
pub(super) struct AutomationSlot {
    automations: RwLock<Option<Arc<Automations>>>,
    counters: Mutex<BTreeMap<RuleId, RuleCounters>>,
}

/// What processing an event did.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Processed {
    /// The event was processed before for this contact: nothing new was done, and
    /// `transitions` are the ones stored then.
    pub duplicate: bool,
    /// The transitions stored, by membership in the order each was first moved, each
    /// membership's in order.
    pub transitions: Vec<Transition>,
    /// The external effects for the host to perform, each with its dedupe key.
    pub effects: Vec<ExternalEffect>,
    /// Every rule's verdict and the evaluation (`None` for a duplicate).
    pub explanation: Option<Explanation>,
}

impl<R: Repository, C: Clock> JourneyEngine<R, C> {
    /// Checks `rules` against every stored journey and runs them from now on.
    /// Journeys defined later are known to the rules after the next call.
    ///
    /// # Errors
    /// [`DomainError::InvalidRule`](crate::DomainError::InvalidRule) as
    /// [`Automations::new`]; a repository error loading the journeys.
    pub async fn set_automations(
        &self,
        rules: impl IntoIterator<Item = Rule>,
    ) -> Result<Arc<Automations>, Error> {
        let mut journeys: Vec<Arc<Journey>> = Vec::new();
        for id in self.repository.list_journeys().await? {
            journeys.push(self.journey(&id).await?);
        }
        Ok(self.install_automations(Automations::new(rules, journeys)?))
    }

    /// Runs `automations` from now on (built by the host, e.g. with another cascade
    /// depth).
    pub fn install_automations(&self, automations: Automations) -> Arc<Automations> {
        let automations = Arc::new(automations);
        *self.automation.automations.write().unwrap_or_else(PoisonError::into_inner) =
            Some(Arc::clone(&automations));
        automations
    }

    /// Each rule's counters, by rule id.
    pub fn rule_counters(&self) -> BTreeMap<RuleId, RuleCounters> {
        self.automation.counters.lock().unwrap_or_else(PoisonError::into_inner).clone()
    }

    /// Processes `event` end to end: evaluates it against the contact's stored state
    /// with the installed rules, stores every move and attribute change in one commit
    /// (checked against each membership's and the contact's version, retried on
    /// `Conflict`) under the event's [`event_key`], and returns the external effects
    /// with the explanation. An event already processed for the contact does nothing
    /// new. With no rules installed, the event is only recorded as processed.
    ///
    /// Moves happen at the event's `occurred_at` and are recorded now. The crate
    /// stores no effects: a duplicate returns the stored transitions but not the
    /// effects, so a host whose acknowledgement of a commit was lost does not get that
    /// event's effects again (their dedupe keys let it perform each at most once).
    ///
    /// # Errors
    /// `NotFound` for an unknown contact; `invalid_history` for a stored history that
    /// breaks a rule; `Conflict` if every attempt lost a race; other repository errors.
    pub async fn process_event(&self, event: &Event) -> Result<Processed, Error> {
        let automations = self.automations()?;
        let key = event_key(&event.contact, &event.id);
        let mut attempt = 1;
        loop {
            if let Some(transitions) = self.repository.find_idempotency_key(&key).await? {
                return Ok(Processed {
                    duplicate: true,
                    transitions,
                    effects: Vec::new(),
                    explanation: None,
                });
            }
            let (state, contact_version) = self.contact_state(event).await?;
            let explanation = automations.explain(event, &state, self.clock.now());
            let mut commit = commit_of(&explanation.evaluation, &state, contact_version);
            commit.idempotency_key = Some(key.clone());
            let transitions: Vec<Transition> = commit.transitions().cloned().collect();
            match self.repository.commit(commit).await {
                Ok(()) => {
                    self.count(&automations, event, &explanation.evaluation, true);
                    let evaluation = &explanation.evaluation;
                    return Ok(Processed {
                        duplicate: false,
                        transitions,
                        effects: evaluation.effects().cloned().collect(),
                        explanation: Some(explanation),
                    });
                }
                Err(e) if attempt < self.max_attempts && is_retryable(&e) => attempt += 1,
                Err(e) => {
                    self.count(&automations, event, &explanation.evaluation, false);
                    return Err(e.into());
                }
            }
        }
    }

    fn automations(&self) -> Result<Arc<Automations>, Error> {
        let installed = self.automation.automations.read().unwrap_or_else(PoisonError::into_inner).clone();
        match installed {
            Some(automations) => Ok(automations),
            None => Ok(Arc::new(Automations::new(Vec::new(), Vec::<Journey>::new())?)),
        }
    }

    /// The contact's record and memberships, each replayed and checked, with the
    /// record's version.
    async fn contact_state(&self, event: &Event) -> Result<(ContactState, u64), Error> {
        let contact = &event.contact;
        let stored = self.repository.load_contact(contact).await?;
        let mut state = ContactState::new(stored.value);
        for id in self.repository.contact_journeys(contact).await? {
            let journey = self.journey(&id).await?;
            let membership = self
                .repository
                .read_history(contact, &id, |history| replay(&journey, contact, history))
                .await??;
            if let Some(membership) = membership {
                state.memberships.insert(id, membership);
            }
        }
        Ok((state, stored.version))
    }

    /// Adds what `evaluation` did to the rules' counters; `stored` says whether its
    /// commit succeeded.
    fn count(&self, automations: &Automations, event: &Event, evaluation: &Evaluation, stored: bool) {
        let mut counters = self.automation.counters.lock().unwrap_or_else(PoisonError::into_inner);
        let counters = &mut *counters;
        let events = std::iter::once(event).chain(evaluation.cascade.iter().map(|step| &step.event));
        for evaluated in events {
            for rule in automations.candidates(evaluated) {
                counter(counters, rule).evaluated += 1;
            }
        }
        for firing in evaluation.firings() {
            let counts = counter(counters, &firing.rule);
            counts.matched += 1;
            for report in &firing.outcomes {
                match &report.result {
                    OutcomeResult::Skipped { .. } => counts.skipped += 1,
                    _ if stored => counts.applied += 1,
                    _ => counts.failed += 1,
                }
            }
        }
        for stop in &evaluation.stops {
            if let CascadeStop::Cycle { rule, .. } = stop {
                let outcomes = automations.rules().find(|r| &r.id == rule).map_or(0, |r| r.outcomes.len());
                let counts = counter(counters, rule);
                counts.matched += 1;
                counts.skipped += outcomes as u64;
            }
        }
    }
}

fn counter<'c>(counters: &'c mut BTreeMap<RuleId, RuleCounters>, rule: &RuleId) -> &'c mut RuleCounters {
    counters.entry(rule.clone()).or_default()
}

/// The commit that stores `evaluation`: one append per membership it moved (in the
/// order first moved), checked
/// against the version it was evaluated on, and the contact's new record if it changed.
fn commit_of(evaluation: &Evaluation, before: &ContactState, contact_version: u64) -> Commit {
    let mut appends: IndexMap<&JourneyId, Vec<Transition>> = IndexMap::new();
    for transition in evaluation.transitions() {
        appends.entry(&transition.journey).or_default().push(transition.clone());
    }
    let appends = appends
        .into_iter()
        .map(|(journey, transitions)| Append {
            contact: before.contact.id.clone(),
            journey: journey.clone(),
            expected_version: before.memberships.get(journey).map_or(0, |m| m.version),
            transitions,
        })
        .collect();
    let contacts = match evaluation.state_after(before) {
        Some(after) if after.contact != before.contact => {
            vec![ContactWrite::Update { contact: after.contact, expected_version: contact_version }]
        }
        _ => Vec::new(),
    };
    Commit { appends, contacts, idempotency_key: None }
}
