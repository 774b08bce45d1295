//! The stage → stage matrix of moves.

use super::log::{JourneyLog, NO_STAGE};
use super::{Scope, add_into, same_stages};
use crate::error::DomainError;
use crate::model::ids::StageKey;
use crate::model::transition::SourceKind;

/// What a move from one stage to another is, by the stages' order. Positions count
/// only non-exit stages.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum FlowKind {
    /// Entering the journey.
    Entry,
    /// To the next non-exit stage.
    Forward,
    /// To a later non-exit stage, past at least one.
    Skip,
    /// To an earlier (or the same) non-exit stage, or out of an exit stage.
    Backward,
    /// Into an exit stage.
    Exit,
}

/// Counts of moves: entries per stage, and per (from, to) pair of stages.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Flows {
    /// The journey's stages in order.
    pub stages: Vec<StageKey>,
    /// Whether each stage is an exit.
    pub exit: Vec<bool>,
    /// `counts[0 * n + to]`: entries into `to`; `counts[(1 + from) * n + to]`:
    /// moves from `from` to `to` (stage indices, `n` stages).
    pub counts: Vec<u64>,
}

impl Flows {
    fn empty(stages: Vec<StageKey>, exit: Vec<bool>) -> Self {
        let n = stages.len();
        Flows { stages, exit, counts: vec![0; (n + 1) * n] }
    }

    /// Moves from `from` (`None`: entries) to `to`, by stage index.
    pub fn moves(&self, from: Option<usize>, to: usize) -> u64 {
        let n = self.stages.len();
        self.counts.get(from.map_or(0, |f| f + 1) * n + to).copied().unwrap_or(0)
    }

    /// The kind of a move from `from` (`None`: entry) to `to`, by stage index.
    pub fn kind(&self, from: Option<usize>, to: usize) -> FlowKind {
        let position = |s: usize| self.exit[..s].iter().filter(|e| !**e).count();
        match from {
            None => FlowKind::Entry,
            _ if self.exit.get(to).copied().unwrap_or(false) => FlowKind::Exit,
            Some(f) if self.exit.get(f).copied().unwrap_or(false) => FlowKind::Backward,
            Some(f) if position(to) == position(f) + 1 => FlowKind::Forward,
            Some(f) if position(to) > position(f) => FlowKind::Skip,
            Some(_) => FlowKind::Backward,
        }
    }

    /// Every non-zero cell: from (`None`: entry), to, moves, kind.
    pub fn cells(&self) -> Vec<(Option<usize>, usize, u64, FlowKind)> {
        let n = self.stages.len();
        (0..=n)
            .flat_map(|row| (0..n).map(move |to| (row.checked_sub(1), to)))
            .filter_map(|(from, to)| {
                let moves = self.moves(from, to);
                (moves > 0).then(|| (from, to, moves, self.kind(from, to)))
            })
            .collect()
    }

    /// All moves of one kind.
    pub fn total(&self, kind: FlowKind) -> u64 {
        self.cells().into_iter().filter(|c| c.3 == kind).map(|c| c.2).sum()
    }

    /// Adds the moves of a disjoint set of contacts.
    ///
    /// # Errors
    /// [`DomainError::InvalidValue`] when `other` is about other stages.
    pub fn merge(&mut self, other: &Flows) -> Result<(), DomainError> {
        same_stages(&self.stages, &other.stages)?;
        add_into(&mut self.counts, &other.counts);
        Ok(())
    }
}

impl JourneyLog {
    /// The stage → stage matrix of moves, entries included.
    pub fn flows(&self, scope: Scope<'_>) -> Flows {
        let mut flows = [self.empty_flows()];
        self.count_flows(scope, &mut flows, |_| 0);
        let [flows] = flows;
        flows
    }

    /// [`flows`](Self::flows) split by the source kind of each move, in
    /// [`SourceKind::ALL`] order.
    pub fn flows_by_source(&self, scope: Scope<'_>) -> Vec<(SourceKind, Flows)> {
        let mut flows = SourceKind::ALL.map(|_| self.empty_flows());
        self.count_flows(scope, &mut flows, usize::from);
        SourceKind::ALL.into_iter().zip(flows).collect()
    }

    fn empty_flows(&self) -> Flows {
        Flows::empty(self.stage_keys(), self.journey.stages().map(|s| s.is_exit()).collect())
    }

    fn count_flows(&self, scope: Scope<'_>, flows: &mut [Flows], split: impl Fn(u8) -> usize) {
        let n = self.journey.stage_count();
        for g in self.visible(scope) {
            let first = self.entered_from[g.member];
            let row = if first == NO_STAGE { 0 } else { usize::from(first) + 1 };
            flows[split(self.source[g.start])].counts[row * n + usize::from(self.stage[g.start])] += 1;
            for i in g.start + 1..g.end {
                let cell = (usize::from(self.stage[i - 1]) + 1) * n + usize::from(self.stage[i]);
                flows[split(self.source[i])].counts[cell] += 1;
            }
        }
    }
}
