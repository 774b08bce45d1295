//! The ordered funnel with a conversion window (`windowFunnel` semantics).

use chrono::TimeDelta;

use super::log::JourneyLog;
use super::{Scope, add_into, either, stage_index};
use crate::error::DomainError;
use crate::model::journey::Journey;
use crate::model::transition::SourceKind;

/// One step of an ordered funnel: a predicate on a transition — it enters one of
/// some stages, optionally only from some source kinds.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Step {
    label: String,
    stages: Vec<usize>,
    sources: Option<Vec<SourceKind>>,
}

impl Step {
    /// Entering stage `key` of `journey`.
    ///
    /// # Errors
    /// [`DomainError::UnknownStage`] when the journey has no such stage.
    pub fn enter(journey: &Journey, key: &str) -> Result<Self, DomainError> {
        Ok(Step { label: key.to_owned(), stages: vec![stage_index(journey, key)?], sources: None })
    }

    /// Entering any of the stages `keys` of `journey`, labelled `label`.
    ///
    /// # Errors
    /// [`DomainError::UnknownStage`] for a stage the journey lacks.
    pub fn enter_any<'k>(
        journey: &Journey,
        label: &str,
        keys: impl IntoIterator<Item = &'k str>,
    ) -> Result<Self, DomainError> {
        let stages = keys.into_iter().map(|k| stage_index(journey, k)).collect::<Result<_, _>>()?;
        Ok(Step { label: label.to_owned(), stages, sources: None })
    }

    /// Only transitions from these source kinds match.
    #[must_use]
    pub fn via(mut self, sources: impl IntoIterator<Item = SourceKind>) -> Self {
        self.sources = Some(sources.into_iter().collect());
        self
    }

    /// The step's label (its stage key, or the label given).
    pub fn label(&self) -> &str {
        &self.label
    }

    fn matches(&self, stage: usize, source: SourceKind) -> bool {
        self.stages.contains(&stage) && self.sources.as_ref().is_none_or(|s| s.contains(&source))
    }
}

/// How strictly a chain of steps must follow the log. Flags combine.
///
/// A *chain* starts at a transition matching step 1 at time `t1`; step `k + 1` is the
/// earliest later transition (later in the contact's log: a later time, or the same
/// time recorded after) that matches step `k + 1` and is dated at or before
/// `t1 + window` (inclusive). A contact's level is the longest chain over all its
/// step-1 transitions. One transition takes at most one step in a chain; a
/// transition matching several steps may take whichever the chain needs next.
///
/// - **default** (all flags off): transitions matching no next step are skipped;
///   equal timestamps may advance the chain.
/// - **`strict_order`**: after the chain's start, a transition that matches some
///   step but neither the next step nor the step just taken ends the chain
///   (repeats of the step just taken are skipped).
/// - **`strict_dedup`**: a transition that matches the step just taken (and not the
///   next one) ends the chain.
/// - **`strict_increase`**: a step is taken only by a transition dated strictly
///   after the previous step's; same-time transitions are skipped.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct FunnelMode {
    /// An intervening transition of another step breaks the chain.
    pub strict_order: bool,
    /// Repeating the step just taken breaks the chain.
    pub strict_dedup: bool,
    /// Same-timestamp transitions do not advance the chain.
    pub strict_increase: bool,
}

/// An ordered funnel: steps, a conversion window and a mode.
///
/// ```
/// use journeys::analytics::{FunnelSpec, Scope, Step, TransitionLog};
/// use journeys::{Journey, SequencePolicy, Stage};
/// let referral = Journey::new("referral", "Referral", SequencePolicy::AnyOrder,
///     [Stage::new("lead", "Lead")?, Stage::new("trial", "Trial")?])?;
/// let csv = "contact_id,journey,from_stage,to_stage,at,source\n\
///            c1,referral,,lead,2026-01-01T00:00:00Z,import\n\
///            c1,referral,lead,trial,2026-03-01T00:00:00Z,manual\n";
/// let log = TransitionLog::read_csv(csv.as_bytes(), [referral.clone()], 0)?;
/// let steps = [Step::enter(&referral, "lead")?, Step::enter(&referral, "trial")?];
/// let month = FunnelSpec::new(steps.clone(), chrono::TimeDelta::days(30))?;
/// let funnel = log.journey("referral").unwrap().window_funnel(&month, Scope::all());
/// assert_eq!(funnel.reached(2), 0); // trial came 59 days after lead
/// let quarter = FunnelSpec::new(steps, chrono::TimeDelta::days(90))?;
/// assert_eq!(log.journey("referral").unwrap().window_funnel(&quarter, Scope::all()).reached(2), 1);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FunnelSpec {
    steps: Vec<Step>,
    window: i64,
    mode: FunnelMode,
}

/// At most this many steps (each is a bit of a `u32` mask).
const MAX_STEPS: usize = 32;

impl FunnelSpec {
    /// Steps in order, with a window measured from step 1 (inclusive), default mode.
    ///
    /// # Errors
    /// [`DomainError::InvalidValue`] for no step, more than 32, or a negative window.
    pub fn new(steps: impl IntoIterator<Item = Step>, window: TimeDelta) -> Result<Self, DomainError> {
        let steps: Vec<Step> = steps.into_iter().collect();
        let bad = |value: String, reason| Err(DomainError::InvalidValue { field: "funnel", value, reason });
        if steps.is_empty() || steps.len() > MAX_STEPS {
            return bad(steps.len().to_string(), "a funnel has 1 to 32 steps");
        }
        if window < TimeDelta::zero() {
            return bad(window.to_string(), "the window must not be negative");
        }
        Ok(FunnelSpec { steps, window: window.num_seconds(), mode: FunnelMode::default() })
    }

    /// The same funnel in another mode.
    #[must_use]
    pub fn with_mode(mut self, mode: FunnelMode) -> Self {
        self.mode = mode;
        self
    }

    /// The steps.
    pub fn steps(&self) -> &[Step] {
        &self.steps
    }
}

/// Per level `k` (1-based), contacts whose longest chain has exactly `k` steps.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct WindowFunnel {
    /// The steps' labels in order.
    pub steps: Vec<String>,
    /// `max_level[k - 1]`: contacts whose level is exactly `k`.
    pub max_level: Vec<u64>,
}

impl WindowFunnel {
    /// Contacts whose level is exactly `level` (0 for a level outside 1..=steps).
    pub fn at_level(&self, level: usize) -> u64 {
        level.checked_sub(1).and_then(|i| self.max_level.get(i)).copied().unwrap_or(0)
    }

    /// Contacts that reached at least step `level`.
    pub fn reached(&self, level: usize) -> u64 {
        self.max_level.iter().skip(level.saturating_sub(1)).sum()
    }

    /// Adds the funnel of a disjoint set of contacts.
    ///
    /// # Errors
    /// [`DomainError::InvalidValue`] when `other` has other steps.
    pub fn merge(&mut self, other: &WindowFunnel) -> Result<(), DomainError> {
        if self.steps != other.steps {
            return Err(DomainError::InvalidValue {
                field: "steps",
                value: other.steps.join(","),
                reason: "funnels over different steps cannot be merged",
            });
        }
        add_into(&mut self.max_level, &other.max_level);
        Ok(())
    }
}

impl JourneyLog {
    /// Per contact the furthest step reached in order within the window (see
    /// [`FunnelMode`]); contacts matching no step 1 are not counted.
    pub fn window_funnel(&self, spec: &FunnelSpec, scope: Scope<'_>) -> WindowFunnel {
        let n = spec.steps.len();
        // Indexed by stage × 4 + source kind (a shift, not a multiplication).
        let kinds = 4;
        debug_assert_eq!(SourceKind::ALL.len(), kinds);
        // Which steps each (stage, source) pair matches.
        let mut table = vec![0u32; self.journey.stage_count() * kinds];
        for (stage, row) in table.chunks_mut(kinds).enumerate() {
            for (kind, mask) in SourceKind::ALL.into_iter().zip(row.iter_mut()) {
                for (k, step) in spec.steps.iter().enumerate() {
                    if step.matches(stage, kind) {
                        *mask |= 1 << k;
                    }
                }
            }
        }
        let mask = |i: usize| table[usize::from(self.stage[i]) * kinds + usize::from(self.source[i])];
        let mut max_level = vec![0u64; n];
        if spec.mode == FunnelMode::default() {
            self.longest_chains(spec, scope, &table, &mut max_level);
            return WindowFunnel { steps: spec.steps.iter().map(|s| s.label.clone()).collect(), max_level };
        }
        let FunnelMode { strict_order, strict_dedup, strict_increase } = spec.mode;
        for g in self.visible(scope) {
            let mut best = 0usize;
            for i in g.start..g.end {
                if mask(i) & 1 == 0 {
                    continue;
                }
                let t1 = i64::from(self.at[i]);
                let (mut level, mut last) = (1usize, t1);
                for j in i + 1..g.end {
                    if level == n {
                        break;
                    }
                    let t = i64::from(self.at[j]);
                    if t - t1 > spec.window {
                        break;
                    }
                    let m = mask(j);
                    if m == 0 {
                        continue;
                    }
                    if m >> level & 1 == 1 {
                        if !strict_increase || t > last {
                            level += 1;
                            last = t;
                        }
                    } else if (strict_order && m & !(1 << (level - 1)) != 0)
                        || (strict_dedup && m >> (level - 1) & 1 == 1)
                    {
                        break;
                    }
                }
                best = best.max(level);
                if best == n {
                    break;
                }
            }
            if best > 0 {
                max_level[best - 1] += 1;
            }
        }
        WindowFunnel { steps: spec.steps.iter().map(|s| s.label.clone()).collect(), max_level }
    }

    /// The default mode in one flat pass: in the default mode a chain can always take
    /// the earliest match of its next step, and of the chains that reached a level so
    /// far the one that started latest has the most window left, so per member it is
    /// enough to keep, per level reached, the latest start of a chain reaching it.
    /// A transition extends the chains of the step before each step it matches (the
    /// highest first, so that it takes one step per chain).
    fn longest_chains(&self, spec: &FunnelSpec, scope: Scope<'_>, table: &[u32], max_level: &mut [u64]) {
        // Member numbers take 31 bits in `short_chains`.
        if spec.steps.len() <= SHORT_STEPS && self.members() < 1 << 30 {
            return self.short_chains(spec.window, scope, table, max_level);
        }
        // `per_level[k]`: members whose level is `k` (0: no step 1).
        let mut per_level = [0u64; MAX_STEPS + 1];
        // `latest[k]`: the latest start of a chain reaching level `k`, valid up to
        // `level`, as the member's number above the start's time: a start a previous
        // member left is below any of this member's, so taking the maximum with it
        // is right for a new level as for an old one. `latest[0]` is the transition
        // at hand, where a chain of level 0 starts. The last slot takes the writes
        // of transitions that extend nothing: a store to a chosen slot, where a
        // conditional store would be a branch the CPU cannot predict.
        const SCRATCH: usize = MAX_STEPS + 1;
        let mut latest = [0u64; MAX_STEPS + 2];
        let mut member = 0u64;
        for run in self.runs(scope) {
            let mut level = 0usize;
            let columns = self.at[run.clone()]
                .iter()
                .zip(&self.opens[run.clone()])
                .zip(self.stage[run.clone()].iter().zip(&self.source[run]));
            for ((&t, &opens), (&stage, &source)) in columns {
                // A member's level is counted where the next group opens (or the run
                // ends).
                per_level[level] += u64::from(opens);
                level = either(opens, 0, level);
                member += u64::from(opens);
                latest[0] = member << 32 | u64::from(t);
                let mut m = table.get(usize::from(stage) * 4 + usize::from(source)).copied().unwrap_or(0);
                loop {
                    let k = (u32::BITS - 1).saturating_sub(m.leading_zeros()) as usize % MAX_STEPS;
                    let (from, to) = (latest[k], latest[k + 1]);
                    let since = i64::from(t) - i64::from(from as u32);
                    let extends = (m != 0) & (k <= level) & (since <= spec.window);
                    latest[either(extends, k + 1, SCRATCH)] = from.max(to);
                    level = level.max((k + 1) * usize::from(extends));
                    m &= !(1 << k);
                    if m == 0 {
                        break;
                    }
                }
            }
            per_level[level] += 1;
        }
        max_level.copy_from_slice(&per_level[1..=max_level.len()]);
    }

    /// [`longest_chains`](Self::longest_chains) for a funnel of at most
    /// [`SHORT_STEPS`] steps, with its state in registers and no level carried from
    /// one transition to the next. The latest starts are five locals holding the
    /// member's number above bit 33 and the start's time below: a start is this
    /// member's and within the window exactly when the transition's own
    /// `member << 33 | t` exceeds it by at most the window (another member's is
    /// more than 2^32 below), so a step needs no check of the level reached and
    /// each start is updated by a select. The level a member reached is the number
    /// of starts that are its own; the members per level are counted in five
    /// 12-bit lanes of one word, emptied every [`LANE_CHUNK`] transitions.
    fn short_chains(&self, window: i64, scope: Scope<'_>, table: &[u32], max_level: &mut [u64]) {
        const LANE: usize = 12;
        // No same-member difference reaches 2^32: a longer window is the same.
        let window = window.clamp(0, i64::from(u32::MAX)) as u64;
        let mut per_level = [0u64; SHORT_STEPS + 1];
        let mut latest = [0u64; SHORT_STEPS + 1];
        let reached = |latest: &[u64; SHORT_STEPS + 1], member: u64| {
            latest[1..].iter().map(|&start| usize::from(start >> 33 == member)).sum::<usize>()
        };
        // Number 0 would own the starts' initial zeros.
        let mut member = 1u64;
        for run in self.runs(scope) {
            let columns = self.at[run.clone()]
                .chunks(LANE_CHUNK)
                .zip(self.opens[run.clone()].chunks(LANE_CHUNK))
                .zip(self.stage[run.clone()].chunks(LANE_CHUNK).zip(self.source[run].chunks(LANE_CHUNK)));
            for ((at, opens), (stage, source)) in columns {
                let mut lanes = 0u64;
                for ((&t, &opens), (&stage, &source)) in at.iter().zip(opens).zip(stage.iter().zip(source)) {
                    // A member's level is counted where the next group opens.
                    lanes += u64::from(opens) << (LANE * reached(&latest, member));
                    member += u64::from(opens);
                    latest[0] = member << 33 | u64::from(t);
                    let m = table.get(usize::from(stage) * 4 + usize::from(source)).copied().unwrap_or(0);
                    // The highest step first: one transition takes one step per chain.
                    for k in (0..SHORT_STEPS).rev() {
                        let extends = (m >> k & 1 == 1) & (latest[0].wrapping_sub(latest[k]) <= window);
                        let keep = u64::from(extends).wrapping_neg();
                        latest[k + 1] = (latest[k] & keep) | (latest[k + 1] & !keep);
                    }
                }
                for (k, count) in per_level.iter_mut().enumerate() {
                    *count += lanes >> (LANE * k) & ((1 << LANE) - 1);
                }
            }
            per_level[reached(&latest, member)] += 1;
            // The next run's first transition opens a group: the member it closes
            // has none of its own (level 0, not reported).
            member += 1;
        }
        max_level.copy_from_slice(&per_level[1..=max_level.len()]);
    }
}

/// Funnels of up to this many steps take [`JourneyLog::short_chains`].
const SHORT_STEPS: usize = 4;
/// Transitions per emptying of `short_chains`' 12-bit lanes: fewer than a lane holds.
const LANE_CHUNK: usize = (1 << 12) - 1;
