//! Gap analysis: where switching channel, device or department between consecutive
//! touchpoints loses contacts, compared with contacts who stayed on one.
//!
//! The definitions are on [`GapReport`].

use std::collections::HashMap;

use chrono::Duration;
use serde::{Deserialize, Serialize};

use super::log::{ALL_KEYED, InteractionLog, KEYED, SWITCHED_SHIFT};
use crate::analytics::Scope;
use crate::model::ids::{JourneyId, StageKey};
use crate::model::journey::{Journey, StageOutcome};

/// What a switch is between.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum GapDimension {
    /// The touchpoints' channels.
    Channel,
    /// Their devices (touchpoints without one are passed over).
    Device,
    /// Their departments (touchpoints without one are passed over).
    Department,
}

impl GapDimension {
    /// Every dimension, in report order.
    pub const ALL: [GapDimension; 3] =
        [GapDimension::Channel, GapDimension::Device, GapDimension::Department];
}

/// What followed a touchpoint: the contact's next move, if it came within the window.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct FollowUp {
    /// The next move came within the window and went forward to a stage that is not
    /// lost.
    pub advanced: u64,
    /// No move within the window (or one back to an earlier stage): still in the
    /// stage.
    pub stayed: u64,
    /// The next move came within the window and went to a lost stage (one marked
    /// [`StageOutcome::Lost`], or an exit not marked converted).
    pub lost: u64,
}

impl FollowUp {
    /// Every switch (or stayer) counted.
    pub fn total(&self) -> u64 {
        self.advanced + self.stayed + self.lost
    }

    /// The share that did not advance within the window (lost or still in the stage);
    /// 0 when nothing was counted.
    pub fn drop_off(&self) -> f64 {
        let total = self.total();
        if total == 0 { 0.0 } else { (total - self.advanced) as f64 / total as f64 }
    }

    fn add(&mut self, other: &FollowUp) {
        self.advanced += other.advanced;
        self.stayed += other.stayed;
        self.lost += other.lost;
    }

    fn from_counts(counts: [u64; 3]) -> Self {
        FollowUp { advanced: counts[ADVANCED], stayed: counts[STAYED], lost: counts[LOST] }
    }
}

const ADVANCED: usize = 0;
const STAYED: usize = 1;
const LOST: usize = 2;

/// One kind of switch (`from` → `to`) and what followed it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SwitchRow {
    /// The earlier touchpoint's key.
    pub from: String,
    /// The later touchpoint's key.
    pub to: String,
    /// What followed the later touchpoint.
    pub followed: FollowUp,
    /// `followed.drop_off()`.
    pub drop_off: f64,
    /// `drop_off` minus the drop-off of the contacts who stayed on one key in the
    /// same scope (the whole journey, or the stage): see the
    /// [definitions](GapReport#definitions).
    pub excess_drop_off: f64,
}

/// The switches that happened while contacts were in one stage.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct StageGaps {
    /// The stage.
    pub stage: StageKey,
    /// Switches ranked by excess drop-off.
    pub switches: Vec<SwitchRow>,
    /// The stage's stayers: visits to the stage with a key and no switch, each counted
    /// once by what followed its last touchpoint with a key.
    pub same: FollowUp,
}

/// The gap analysis along one dimension.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct DimensionGaps {
    /// What the switches are between.
    pub dimension: GapDimension,
    /// Every switch; the sum of their `followed.total()`.
    pub switch_count: u64,
    /// Switches ranked by excess drop-off (highest first), then count.
    pub switches: Vec<SwitchRow>,
    /// The journey's stayers: contacts with a key in the journey who never switched
    /// there, each counted once by what followed their last touchpoint with a key —
    /// the baseline of contacts keeping to one channel (device, department).
    pub same: FollowUp,
    /// The same per stage the contact was in at the later touchpoint, in journey order.
    pub stages: Vec<StageGaps>,
}

/// Gap analysis of one journey along every [`GapDimension`].
///
/// # Definitions
///
/// Along one dimension (channel, device or department), a contact's touchpoints are
/// taken in time order; touchpoints without the key (no device, no department) are
/// passed over. A touchpoint is counted in the stage the contact was in at that
/// moment; touchpoints before the contact entered the journey are not counted, but
/// one can be the earlier side of a switch.
///
/// - **Switch**: a touchpoint whose key differs from the previous touchpoint's with a
///   key; counted once per switch, as `from → to` in the stage of the later
///   touchpoint, by what followed that later touchpoint.
/// - **What followed** a touchpoint: the contact's next move, if it came within the
///   window after the touchpoint: *advanced* (to a later stage that is not lost),
///   *lost* (to a lost stage) — otherwise (no move in the window, or a move back)
///   *stayed*.
/// - **Stage visit**: a run of a contact's consecutive touchpoints in one stage.
/// - **Stayers of a stage** (the per-stage baseline, [`StageGaps::same`]): the visits
///   to the stage with at least one touchpoint with a key and no switch, counted once
///   per visit — one per contact unless a contact comes back to the stage — by what
///   followed the visit's last touchpoint with a key. A visit whose first touchpoint
///   changes the key of the touchpoint before it (in an earlier stage) is a switch, so
///   not a stayer.
/// - **Stayers of the journey** (the overall baseline, [`DimensionGaps::same`]): the
///   contacts with at least one touchpoint with a key in the journey and no switch
///   there, counted once per contact by what followed their last touchpoint with a
///   key.
/// - **Excess drop-off** of a switch: its drop-off (share not advanced) minus the
///   stayers' drop-off in the same scope (the stage, or the whole journey). Switches
///   are ranked by it, highest first.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct GapReport {
    /// The journey.
    pub journey: JourneyId,
    /// The window a move must come within to count as what followed, in seconds.
    pub window_seconds: i64,
    /// Channel, device and department, in that order.
    pub dimensions: Vec<DimensionGaps>,
}

/// How gaps are measured.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct GapOptions {
    /// A move must come within this long after a touchpoint to count as what followed
    /// it; 7 days by default.
    pub window: Duration,
}

impl Default for GapOptions {
    fn default() -> Self {
        GapOptions { window: Duration::days(7) }
    }
}

impl GapOptions {
    /// The default options with another window.
    #[must_use]
    pub fn with_window(mut self, window: Duration) -> Self {
        self.window = window;
        self
    }
}

/// Counts of switches (stage, from, to) → follow-up classes, each triple a cell
/// `(stage × width + from) × width + to`, the width the number of keys (so
/// `from × width + to` is a switch's [`pair`](super::log::Switches::pair)).
/// A cell's index, `(stage × width + from) × width + to`: 64 bits, so 2^16 stages
/// of 2^16 keys fit on 32-bit targets as well.
type Cell = u64;

trait Tally {
    /// The cell layout's width.
    fn width(&self) -> Cell;
    fn add(&mut self, cell: Cell, class: usize);
    /// Every non-zero (stage, from, to, counts).
    fn cells(&self) -> Vec<(u16, u16, u16, [u64; 3])>;
}

/// The (stage, from, to) of `cell`.
fn decode(cell: Cell, width: Cell) -> Option<(u16, u16, u16)> {
    let to = u16::try_from(cell % width).ok()?;
    let from = u16::try_from(cell / width % width).ok()?;
    let stage = u16::try_from(cell / width / width).ok()?;
    Some((stage, from, to))
}

/// Counts in an array: for the usual handful of channels, devices and departments.
struct Dense {
    width: Cell,
    /// Cell by cell, the three classes' counts.
    counts: Vec<u64>,
}

impl Tally for Dense {
    fn width(&self) -> Cell {
        self.width
    }

    #[inline]
    fn add(&mut self, cell: Cell, class: usize) {
        // Dense layouts have at most `DENSE_CELLS_MAX` cells: the index fits.
        self.counts[cell as usize * 3 + class] += 1;
    }

    fn cells(&self) -> Vec<(u16, u16, u16, [u64; 3])> {
        self.counts
            .chunks_exact(3)
            .enumerate()
            .filter(|(_, c)| c.iter().any(|&n| n > 0))
            .filter_map(|(cell, c)| {
                decode(cell as Cell, self.width).map(|(s, f, t)| (s, f, t, [c[0], c[1], c[2]]))
            })
            .collect()
    }
}

/// Counts in a hash map: for a key space too large for an array.
struct Sparse {
    width: Cell,
    counts: HashMap<Cell, [u64; 3]>,
}

impl Tally for Sparse {
    fn width(&self) -> Cell {
        self.width
    }

    fn add(&mut self, cell: Cell, class: usize) {
        self.counts.entry(cell).or_default()[class] += 1;
    }

    fn cells(&self) -> Vec<(u16, u16, u16, [u64; 3])> {
        self.counts
            .iter()
            .filter_map(|(&cell, &c)| decode(cell, self.width).map(|(s, f, t)| (s, f, t, c)))
            .collect()
    }
}

/// A dimension's counts, dense or sparse.
enum Counts {
    Dense(Dense),
    Sparse(Sparse),
}

/// Most dense cells a dimension's counts may use (each 24 bytes).
const DENSE_CELLS_MAX: usize = 1 << 20;

impl Counts {
    fn new(stages: usize, keys: usize) -> Self {
        match stages.checked_mul(keys).and_then(|n| n.checked_mul(keys)) {
            Some(cells) if cells <= DENSE_CELLS_MAX => {
                Counts::Dense(Dense { width: keys as Cell, counts: vec![0; cells * 3] })
            }
            _ => Counts::Sparse(Sparse { width: keys as Cell, counts: HashMap::new() }),
        }
    }
}

impl Tally for Counts {
    fn width(&self) -> Cell {
        match self {
            Counts::Dense(d) => d.width(),
            Counts::Sparse(s) => s.width(),
        }
    }

    #[inline]
    fn add(&mut self, cell: Cell, class: usize) {
        match self {
            Counts::Dense(d) => d.add(cell, class),
            Counts::Sparse(s) => s.add(cell, class),
        }
    }

    fn cells(&self) -> Vec<(u16, u16, u16, [u64; 3])> {
        match self {
            Counts::Dense(d) => d.cells(),
            Counts::Sparse(s) => s.cells(),
        }
    }
}

/// What followed the contacts who stayed on one key (see [`DimensionGaps::same`]):
/// per stage, and over the whole journey.
struct Stayers {
    stages: Vec<[u64; 3]>,
    overall: [u64; 3],
}

/// One contact's running state along the three dimensions (bit `d` of a mask for
/// dimension `d`): the current stage visit's stage, its touchpoints' flags or-ed, and
/// what followed its last touchpoint with a key; over the contact's earlier visits in
/// the journey, which dimensions had a key, which switched, and what followed the
/// last touchpoint with a key.
struct Contact {
    visit: usize,
    visit_flags: u8,
    visit_class: [usize; 3],
    seen: u8,
    switched: u8,
    class: [usize; 3],
}

impl Contact {
    /// Before the journey (stage `stages`).
    fn new(stages: usize) -> Self {
        Contact {
            visit: stages,
            visit_flags: 0,
            visit_class: [STAYED; 3],
            seen: 0,
            switched: 0,
            class: [STAYED; 3],
        }
    }

    /// Ends the current visit: counts it among its stage's stayers along each
    /// dimension where it had a key and no switch (a visit before the journey counts
    /// nowhere).
    #[inline(always)]
    fn end_visit(&mut self, stayers: &mut [Stayers; 3]) {
        let (keyed, switched) =
            (self.visit_flags & ALL_KEYED, self.visit_flags >> SWITCHED_SHIFT & ALL_KEYED);
        if keyed != 0 && self.visit < stayers[0].stages.len() {
            for (d, stayers) in stayers.iter_mut().enumerate() {
                if keyed >> d & 1 != 0 {
                    stayers.stages[self.visit][self.visit_class[d]] += u64::from(switched >> d & 1 == 0);
                    self.class[d] = self.visit_class[d];
                }
            }
            (self.seen, self.switched) = (self.seen | keyed, self.switched | switched);
        }
        self.visit_flags = 0;
    }

    /// Ends the contact: counts it among the journey's stayers along each dimension
    /// where it had a key in the journey and never switched there.
    #[inline(always)]
    fn end(mut self, stayers: &mut [Stayers; 3]) {
        self.end_visit(stayers);
        let stayed = self.seen & !self.switched;
        for (d, stayers) in stayers.iter_mut().enumerate() {
            stayers.overall[self.class[d]] += u64::from(stayed >> d & 1);
        }
    }
}

/// Counts the switches of `log` in `scope` along the three dimensions and the
/// stayers: one pass, stay by stay, visiting the switches rather than every
/// touchpoint.
fn scan<T: Tally>(
    log: &InteractionLog,
    scope: &Scope<'_>,
    window: i64,
    tallies: &mut [T; 3],
) -> [Stayers; 3] {
    let stages = log.journey.stage_count();
    let lost = lost_stages(&log.journey);
    let (tp, switches) = (&log.tp, &log.switches);
    let mut stayers = [(); 3].map(|()| Stayers { stages: vec![[0; 3]; stages], overall: [0; 3] });
    let widths = [0, 1, 2].map(|d| tallies[d].width());
    for c in 0..log.contacts.len() {
        let Some(stays) = log.stays(c, scope) else { continue };
        // The contact's switches, walked alongside its stays.
        let list = switches.start[c]..switches.start[c + 1];
        let switched = &switches.touchpoint[list.clone()];
        let pairs = &switches.pair[list.clone()][..switched.len()];
        let dimensions = &switches.dimension[list][..switched.len()];
        let mut next = 0;
        let mut contact = Contact::new(stages);
        // Each dimension's cell row for the visit's stage.
        let mut rows = [0; 3];
        for stay in stays {
            let touchpoints = stay.touchpoints;
            if touchpoints.is_empty() {
                continue;
            }
            let stage = usize::from(stay.stage).min(stages);
            if stage != contact.visit {
                contact.end_visit(&mut stayers);
                contact.visit = stage;
                rows = widths.map(|width| stage as Cell * width * width);
            }
            if stage == stages {
                // Before the journey: its switches are not counted, nor its stayers.
                while next < switched.len() && (switched[next] as usize) < touchpoints.end {
                    next += 1;
                }
                continue;
            }
            // What follows the stay's touchpoints within the window of the move that
            // ends it; the ones before the window stayed.
            let (follows, from) = match stay.ended_by {
                Some((when, to)) => {
                    let class = if lost[usize::from(to)] {
                        LOST
                    } else if to > stay.stage {
                        ADVANCED
                    } else {
                        STAYED
                    };
                    (class, when.saturating_sub(window))
                }
                None => (STAYED, i64::MAX),
            };
            let class_of = |i: usize| if tp.at[i] >= from { follows } else { STAYED };
            // The stay's flags or-ed, and its last touchpoint with a device and with
            // a department, in one pass without branches (every touchpoint has a
            // channel: the stay's last is the last with one).
            let (mut all, mut last) = (0, [usize::MAX; 3]);
            for (i, &f) in tp.flags[touchpoints.clone()].iter().enumerate() {
                all |= f;
                for (d, last) in last.iter_mut().enumerate().skip(1) {
                    *last = if f & KEYED[d] != 0 { i } else { *last };
                }
            }
            contact.visit_flags |= all;
            last[0] = touchpoints.len() - 1;
            for (class, last) in contact.visit_class.iter_mut().zip(last) {
                if last != usize::MAX {
                    *class = class_of(touchpoints.start + last);
                }
            }
            while next < switched.len() && (switched[next] as usize) < touchpoints.end {
                let d = usize::from(dimensions[next]);
                let class = class_of(switched[next] as usize);
                tallies[d].add(rows[d] + Cell::from(pairs[next]), class);
                next += 1;
            }
        }
        contact.end(&mut stayers);
    }
    stayers
}

/// Whether reaching `stage` means the contact is lost.
fn lost_stages(journey: &Journey) -> Vec<bool> {
    journey
        .stages()
        .map(|s| match s.outcome() {
            Some(StageOutcome::Lost) => true,
            Some(StageOutcome::Converted) => false,
            None => s.is_exit(),
        })
        .collect()
}

impl GapReport {
    /// The gap analysis of the contacts of `log` in `scope`, with transitions and
    /// touchpoints up to its as-of instant.
    pub fn compute(log: &InteractionLog, scope: Scope<'_>, options: &GapOptions) -> GapReport {
        let stages = log.journey.stage_count();
        let window = options.window.num_milliseconds();
        let key_counts = [log.channels.len(), log.devices.len(), log.departments.len()];
        let (tallies, stayers) = match key_counts.map(|keys| Counts::new(stages, keys)) {
            [Counts::Dense(a), Counts::Dense(b), Counts::Dense(c)] => {
                // The usual case, monomorphic: no dispatch per count.
                let mut dense = [a, b, c];
                let stayers = scan(log, &scope, window, &mut dense);
                (dense.map(Counts::Dense), stayers)
            }
            mut mixed => {
                let stayers = scan(log, &scope, window, &mut mixed);
                (mixed, stayers)
            }
        };
        let dimensions = GapDimension::ALL
            .into_iter()
            .zip(tallies.iter().zip(stayers))
            .map(|(dimension, (tally, stayers))| dimension_report(log, dimension, tally, &stayers))
            .collect();
        GapReport {
            journey: log.journey.id().clone(),
            window_seconds: options.window.num_seconds(),
            dimensions,
        }
    }
}

fn key_name(log: &InteractionLog, dimension: GapDimension, key: u16) -> String {
    let name = match dimension {
        GapDimension::Channel => log.channels.get(key).map(|k| k.as_str()),
        GapDimension::Device => log.devices.get(key).map(|k| k.as_str()),
        GapDimension::Department => log.departments.get(key).map(|k| k.as_str()),
    };
    name.unwrap_or_default().to_owned()
}

fn row(
    log: &InteractionLog,
    dimension: GapDimension,
    from: u16,
    to: u16,
    followed: FollowUp,
    same: &FollowUp,
) -> SwitchRow {
    let drop_off = followed.drop_off();
    SwitchRow {
        from: key_name(log, dimension, from),
        to: key_name(log, dimension, to),
        followed,
        drop_off,
        excess_drop_off: drop_off - same.drop_off(),
    }
}

fn rank(rows: &mut [SwitchRow]) {
    rows.sort_by(|a, b| {
        b.excess_drop_off
            .total_cmp(&a.excess_drop_off)
            .then_with(|| b.followed.total().cmp(&a.followed.total()))
            .then_with(|| (&a.from, &a.to).cmp(&(&b.from, &b.to)))
    });
}

fn dimension_report(
    log: &InteractionLog,
    dimension: GapDimension,
    tally: &Counts,
    stayers: &Stayers,
) -> DimensionGaps {
    let cells = tally.cells();
    let stage_same: Vec<FollowUp> = stayers.stages.iter().map(|&c| FollowUp::from_counts(c)).collect();
    let same = FollowUp::from_counts(stayers.overall);
    let mut overall: HashMap<(u16, u16), FollowUp> = HashMap::new();
    for &(_, from, to, counts) in &cells {
        overall.entry((from, to)).or_default().add(&FollowUp::from_counts(counts));
    }
    let mut switches: Vec<SwitchRow> = overall
        .into_iter()
        .map(|((from, to), followed)| row(log, dimension, from, to, followed, &same))
        .collect();
    rank(&mut switches);
    let stages = log
        .journey
        .stages()
        .enumerate()
        .map(|(s, stage)| {
            let stage_same = stage_same.get(s).copied().unwrap_or_default();
            let mut switches: Vec<SwitchRow> = cells
                .iter()
                .filter(|cell| usize::from(cell.0) == s)
                .map(|&(_, from, to, counts)| {
                    row(log, dimension, from, to, FollowUp::from_counts(counts), &stage_same)
                })
                .collect();
            rank(&mut switches);
            StageGaps { stage: stage.key().clone(), switches, same: stage_same }
        })
        .collect();
    DimensionGaps {
        dimension,
        switch_count: cells.iter().map(|c| c.3.iter().sum::<u64>()).sum(),
        switches,
        same,
        stages,
    }
}
