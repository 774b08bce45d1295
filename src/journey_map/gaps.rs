//! Gap analysis: where switching channel, device or department between consecutive
//! touchpoints loses contacts, compared with staying on one.

use std::collections::HashMap;

use chrono::Duration;
use serde::{Deserialize, Serialize};

use super::log::{InteractionLog, NONE};
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
    /// Every touchpoint counted.
    pub fn total(&self) -> u64 {
        self.advanced + self.stayed + self.lost
    }

    /// The share that did not advance within the window (lost or still in the stage);
    /// 0 when nothing was counted.
    pub fn drop_off(&self) -> f64 {
        let total = self.total();
        if total == 0 { 0.0 } else { (total - self.advanced) as f64 / total as f64 }
    }

    fn add(&mut self, class: usize) {
        match class {
            ADVANCED => self.advanced += 1,
            LOST => self.lost += 1,
            _ => self.stayed += 1,
        }
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
    /// `drop_off` minus the drop-off after touchpoints that stayed on the same key, in
    /// the same scope (the whole journey, or the stage).
    pub excess_drop_off: f64,
}

/// The switches that happened while contacts were in one stage.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct StageGaps {
    /// The stage.
    pub stage: StageKey,
    /// Switches ranked by excess drop-off.
    pub switches: Vec<SwitchRow>,
    /// What followed touchpoints that stayed on the previous one's key.
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
    /// What followed touchpoints that stayed on the previous one's key: the baseline
    /// of contacts keeping to one channel (device, department).
    pub same: FollowUp,
    /// The same per stage the contact was in at the later touchpoint, in journey order.
    pub stages: Vec<StageGaps>,
}

/// Gap analysis of one journey along every [`GapDimension`].
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

/// Counts of (stage, from, to) → follow-up classes: dense while the key space is
/// small, a hash map beyond.
enum SwitchCounts {
    Dense { keys: usize, counts: Vec<[u64; 3]> },
    Sparse(HashMap<(u16, u16, u16), [u64; 3]>),
}

/// Most dense cells a dimension's counts may use (each 24 bytes).
const DENSE_CELLS_MAX: usize = 1 << 20;

impl SwitchCounts {
    fn new(stages: usize, keys: usize) -> Self {
        match stages.checked_mul(keys).and_then(|n| n.checked_mul(keys)) {
            Some(cells) if cells <= DENSE_CELLS_MAX => {
                SwitchCounts::Dense { keys, counts: vec![[0; 3]; cells] }
            }
            _ => SwitchCounts::Sparse(HashMap::new()),
        }
    }

    fn add(&mut self, stage: u16, from: u16, to: u16, class: usize) {
        match self {
            SwitchCounts::Dense { keys, counts } => {
                let cell = (usize::from(stage) * *keys + usize::from(from)) * *keys + usize::from(to);
                counts[cell][class] += 1;
            }
            SwitchCounts::Sparse(map) => map.entry((stage, from, to)).or_default()[class] += 1,
        }
    }

    /// Every non-zero (stage, from, to, counts).
    fn cells(&self) -> Vec<(u16, u16, u16, [u64; 3])> {
        match self {
            SwitchCounts::Dense { keys, counts } => counts
                .iter()
                .enumerate()
                .filter(|(_, c)| c.iter().any(|&n| n > 0))
                .filter_map(|(cell, c)| {
                    let to = u16::try_from(cell % keys).ok()?;
                    let from = u16::try_from(cell / keys % keys).ok()?;
                    let stage = u16::try_from(cell / keys / keys).ok()?;
                    Some((stage, from, to, *c))
                })
                .collect(),
            SwitchCounts::Sparse(map) => map.iter().map(|(&(s, f, t), &c)| (s, f, t, c)).collect(),
        }
    }
}

/// One dimension's counters.
struct Tally {
    switches: SwitchCounts,
    /// Per stage: what followed touchpoints on the same key.
    same: Vec<FollowUp>,
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
        let lost = lost_stages(&log.journey);
        let window = options.window.num_milliseconds();
        let key_counts = [log.channels.len(), log.devices.len(), log.departments.len()];
        let mut tallies = key_counts.map(|keys| Tally {
            switches: SwitchCounts::new(stages, keys),
            same: vec![FollowUp::default(); stages],
        });
        let tp = &log.tp;
        let columns = [&tp.channel, &tp.device, &tp.department];
        for c in 0..log.contacts.len() {
            let Some((touchpoints, mut cursor)) = log.visible(c, &scope) else { continue };
            let mut previous = [NONE; 3];
            for i in touchpoints {
                let at = tp.at[i];
                while cursor.move_before(at).is_some() {}
                let stage = cursor.stage;
                let current = [columns[0][i], columns[1][i], columns[2][i]];
                if stage != NONE {
                    let class = match cursor.upcoming() {
                        Some((when, to)) if when - at <= window => {
                            if lost[usize::from(to)] {
                                LOST
                            } else if to > stage {
                                ADVANCED
                            } else {
                                STAYED
                            }
                        }
                        _ => STAYED,
                    };
                    for d in 0..3 {
                        let (from, to) = (previous[d], current[d]);
                        if from == NONE || to == NONE {
                            continue;
                        }
                        if from == to {
                            tallies[d].same[usize::from(stage)].add(class);
                        } else {
                            tallies[d].switches.add(stage, from, to, class);
                        }
                    }
                }
                for d in 0..3 {
                    if current[d] != NONE {
                        previous[d] = current[d];
                    }
                }
            }
        }
        let dimensions = GapDimension::ALL
            .into_iter()
            .zip(tallies)
            .map(|(dimension, tally)| dimension_report(log, dimension, &tally))
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
    counts: [u64; 3],
    same: &FollowUp,
) -> SwitchRow {
    let followed = FollowUp::from_counts(counts);
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

fn dimension_report(log: &InteractionLog, dimension: GapDimension, tally: &Tally) -> DimensionGaps {
    let cells = tally.switches.cells();
    let mut same = FollowUp::default();
    for stage in &tally.same {
        same.advanced += stage.advanced;
        same.stayed += stage.stayed;
        same.lost += stage.lost;
    }
    let mut overall: HashMap<(u16, u16), [u64; 3]> = HashMap::new();
    for &(_, from, to, counts) in &cells {
        let sum = overall.entry((from, to)).or_default();
        for class in 0..3 {
            sum[class] += counts[class];
        }
    }
    let mut switches: Vec<SwitchRow> = overall
        .into_iter()
        .map(|((from, to), counts)| row(log, dimension, from, to, counts, &same))
        .collect();
    rank(&mut switches);
    let stages = log
        .journey
        .stages()
        .enumerate()
        .map(|(s, stage)| {
            let stage_same = tally.same[s];
            let mut switches: Vec<SwitchRow> = cells
                .iter()
                .filter(|cell| usize::from(cell.0) == s)
                .map(|&(_, from, to, counts)| row(log, dimension, from, to, counts, &stage_same))
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
