//! How long contacts stay: time in stage and time to convert.

use chrono::{DateTime, Utc};

use super::log::JourneyLog;
use super::{Scope, either, same_stages};
use crate::error::DomainError;
use crate::model::ids::StageKey;

/// A bag of durations in whole seconds, kept whole so that merging bags and then
/// summarizing gives exactly what summarizing the union gives.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Durations {
    seconds: Vec<u32>,
}

/// Count, mean and quantiles of a [`Durations`], in seconds.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct DwellSummary {
    /// How many durations.
    pub count: u64,
    /// Their mean.
    pub mean: f64,
    /// The median (quantile 0.5).
    pub median: f64,
    /// Quantile 0.9.
    pub p90: f64,
}

impl Durations {
    /// The durations, in no particular order.
    pub fn seconds(&self) -> &[u32] {
        &self.seconds
    }

    /// How many durations.
    pub fn len(&self) -> usize {
        self.seconds.len()
    }

    /// Whether there is none.
    pub fn is_empty(&self) -> bool {
        self.seconds.is_empty()
    }

    pub(crate) fn push(&mut self, seconds: u32) {
        self.seconds.push(seconds);
    }

    /// Adds the durations of a disjoint set of contacts.
    pub fn merge(&mut self, other: &Durations) {
        self.seconds.extend_from_slice(&other.seconds);
    }

    /// Quantile `q` (0 ≤ q ≤ 1) with linear interpolation between the two nearest
    /// ranks at position (n − 1)·q (numpy's default method); `None` when empty.
    ///
    /// ```
    /// use journeys::analytics::Durations;
    /// let d: Durations = [10, 20, 30, 40].into_iter().collect();
    /// assert_eq!(d.quantile(0.5), Some(25.0));
    /// assert_eq!(d.quantile(0.9), Some(37.0));
    /// ```
    pub fn quantile(&self, q: f64) -> Option<f64> {
        quantiles(&self.seconds, &[q]).pop().flatten()
    }

    /// Count, mean, median and p90; `None` when empty.
    pub fn summary(&self) -> Option<DwellSummary> {
        let [median, p90] = <[Option<f64>; 2]>::try_from(quantiles(&self.seconds, &[0.5, 0.9])).ok()?;
        let sum: u64 = self.seconds.iter().map(|&s| u64::from(s)).sum();
        let count = self.seconds.len() as u64;
        Some(DwellSummary { count, mean: sum as f64 / count as f64, median: median?, p90: p90? })
    }
}

/// Quantiles `qs` of `values` (see [`Durations::quantile`]) in three sequential
/// passes and no copy: the maximum, a histogram of the 16 top significant bits, and
/// a gathering of the values in the few buckets that hold the ranks wanted.
fn quantiles(values: &[u32], qs: &[f64]) -> Vec<Option<f64>> {
    const BITS: u32 = 16;
    let Some(&max) = values.iter().max() else { return vec![None; qs.len()] };
    let shift = (u32::BITS - max.leading_zeros()).saturating_sub(BITS);
    let mut histogram = vec![0u32; 1 << BITS];
    for &v in values {
        histogram[(v >> shift) as usize] += 1;
    }
    let mut picker = QuantilePicker::new(&histogram, qs);
    for &v in values {
        let b = (v >> shift) as usize;
        if picker.wants(b) {
            picker.offer(b, v);
        }
    }
    picker.finish()
}

/// Picks quantiles (linear interpolation at (n − 1)·q) out of values looked at
/// twice, without keeping them: first counted in a histogram of their top bits (by
/// the caller), then offered one by one with their bucket, when only those in the
/// few buckets that hold the ranks wanted are kept, to be sorted.
struct QuantilePicker {
    /// Per quantile: the ranks either side of its position and the weight of the upper.
    positions: Vec<Option<(usize, usize, f64)>>,
    /// Where each bucket starts in rank order.
    starts: Vec<usize>,
    /// Per bucket, whether it holds a rank wanted.
    wanted: Vec<bool>,
    /// The values of the wanted buckets.
    gathered: Vec<(usize, Vec<u32>)>,
}

impl QuantilePicker {
    fn new(histogram: &[u32], qs: &[f64]) -> Self {
        let n: usize = histogram.iter().map(|&c| c as usize).sum();
        let positions = qs
            .iter()
            .map(|&q| {
                (n > 0 && (0.0..=1.0).contains(&q)).then(|| {
                    let pos = (n - 1) as f64 * q;
                    let lo = (pos.floor() as usize).min(n - 1);
                    (lo, (lo + 1).min(n - 1), pos - lo as f64)
                })
            })
            .collect::<Vec<_>>();
        let mut starts = Vec::with_capacity(histogram.len());
        let mut running = 0usize;
        for &count in histogram {
            starts.push(running);
            running += count as usize;
        }
        let mut picker =
            QuantilePicker { positions, starts, wanted: vec![false; histogram.len()], gathered: Vec::new() };
        for &(lo, hi, _) in picker.positions.iter().flatten() {
            for b in [picker.bucket_of(lo), picker.bucket_of(hi)] {
                if !picker.wanted[b] {
                    picker.wanted[b] = true;
                    picker.gathered.push((b, Vec::with_capacity(histogram[b] as usize)));
                }
            }
        }
        picker
    }

    /// The bucket holding rank `rank`.
    fn bucket_of(&self, rank: usize) -> usize {
        self.starts.partition_point(|&s| s <= rank).saturating_sub(1)
    }

    /// Whether bucket `b` of the histogram holds a rank wanted.
    #[inline]
    fn wants(&self, b: usize) -> bool {
        self.wanted.get(b).copied().unwrap_or(false)
    }

    /// Keeps one value counted in bucket `b`, a bucket it [`wants`](Self::wants).
    /// Out of line: few values are in a wanted bucket, and the loops offering them
    /// keep their registers for the others.
    #[cold]
    #[inline(never)]
    fn offer(&mut self, b: usize, value: u32) {
        if let Some((_, list)) = self.gathered.iter_mut().find(|(g, _)| *g == b) {
            list.push(value);
        }
    }

    /// The quantiles, once every value was offered.
    fn finish(mut self) -> Vec<Option<f64>> {
        for (_, list) in &mut self.gathered {
            list.sort_unstable();
        }
        let value_at = |rank: usize| {
            let b = self.bucket_of(rank);
            let (_, list) = self.gathered.iter().find(|(g, _)| *g == b)?;
            list.get(rank - self.starts[b]).map(|&v| f64::from(v))
        };
        self.positions
            .iter()
            .map(|p| {
                let (lo, hi, frac) = (*p)?;
                let (low, high) = (value_at(lo)?, value_at(hi)?);
                Some(if frac == 0.0 { low } else { low + (high - low) * frac })
            })
            .collect()
    }
}

impl FromIterator<u32> for Durations {
    fn from_iter<I: IntoIterator<Item = u32>>(iter: I) -> Self {
        Durations { seconds: iter.into_iter().collect() }
    }
}

/// Per stage, completed stays and stays still open at the as-of instant.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TimeInStage {
    /// The journey's stages in order.
    pub stages: Vec<StageKey>,
    /// `completed[i]`: durations of stays in `stages[i]` that ended (the contact's
    /// next transition came at or before the as-of instant).
    pub completed: Vec<Durations>,
    /// `open[i]`: how long each contact still in `stages[i]` at the as-of instant
    /// has been there — censored stays, reported apart, not dropped.
    pub open: Vec<Durations>,
}

impl TimeInStage {
    /// Adds the stays of a disjoint set of contacts.
    ///
    /// # Errors
    /// [`DomainError::InvalidValue`] when `other` is about other stages.
    pub fn merge(&mut self, other: &TimeInStage) -> Result<(), DomainError> {
        same_stages(&self.stages, &other.stages)?;
        for (mine, theirs) in self.completed.iter_mut().zip(&other.completed) {
            mine.merge(theirs);
        }
        for (mine, theirs) in self.open.iter_mut().zip(&other.open) {
            mine.merge(theirs);
        }
        Ok(())
    }
}

/// Per stage, count, mean, median and p90 of the completed stays: what
/// [`TimeInStage::completed`] summarizes to, computed without collecting the stays
/// (see [`JourneyLog::time_in_stage_summary`]). Quantiles do not merge: merge
/// [`TimeInStage`]s and summarize those instead.
#[derive(Clone, Debug, PartialEq)]
pub struct TimeInStageSummary {
    /// The journey's stages in order.
    pub stages: Vec<StageKey>,
    /// `completed[i]`: the summary of the completed stays in `stages[i]`, `None`
    /// when there is none.
    pub completed: Vec<Option<DwellSummary>>,
}

/// Time from entering one stage to entering another.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Conversion {
    /// Per converted contact, seconds from its first entry into the start stage to
    /// its first later entry into the goal stage.
    pub converted: Durations,
    /// Contacts that entered the start stage but not (yet) the goal after it.
    pub not_converted: u64,
}

impl Conversion {
    /// Adds the conversions of a disjoint set of contacts.
    pub fn merge(&mut self, other: &Conversion) {
        self.converted.merge(&other.converted);
        self.not_converted += other.not_converted;
    }
}

impl JourneyLog {
    /// Completed and open stays per stage. A stay is a transition into a stage; it
    /// is completed by the contact's next transition. Open stays are measured up to
    /// the scope's as-of instant, or to the journey's latest transition without one.
    pub fn time_in_stage(&self, scope: Scope<'_>) -> TimeInStage {
        let n = self.journey.stage_count();
        // Sized up front (at most one completed stay per transition into a stage):
        // no buffer grows and copies itself while the stays are collected.
        let mut entries = vec![0usize; n];
        for &s in &self.stage {
            entries[usize::from(s)] += 1;
        }
        let mut completed: Vec<Durations> =
            entries.iter().map(|&e| Durations { seconds: Vec::with_capacity(e) }).collect();
        let mut open = vec![Durations::default(); n];
        let now = scope.as_of.map_or(i64::from(self.last), |t| self.rel(t));
        for g in self.visible(scope) {
            for i in g.start..g.end - 1 {
                completed[usize::from(self.stage[i])].push(self.at[i + 1] - self.at[i]);
            }
            let last = g.end - 1;
            let age = (now - i64::from(self.at[last])).clamp(0, i64::from(u32::MAX));
            open[usize::from(self.stage[last])].push(age as u32);
        }
        TimeInStage { stages: self.stage_keys(), completed, open }
    }

    /// What [`time_in_stage`](Self::time_in_stage)'s completed stays summarize to,
    /// by two flat passes over the columns and no list of stays: a histogram per
    /// stage of the stays' top bits, then a gathering of the stays in the few
    /// buckets that hold the ranks wanted.
    ///
    /// ```
    /// use journeys::analytics::{Scope, TransitionLog};
    /// use journeys::{Journey, SequencePolicy, Stage};
    /// let csv = "contact_id,journey,from_stage,to_stage,at,source\n\
    ///            c1,referral,,lead,2026-01-01T00:00:00Z,import\n\
    ///            c2,referral,,lead,2026-01-01T00:00:00Z,import\n\
    ///            c1,referral,lead,trial,2026-01-01T00:01:00Z,manual\n\
    ///            c2,referral,lead,trial,2026-01-01T00:03:00Z,manual\n";
    /// let referral = Journey::new("referral", "Referral", SequencePolicy::AnyOrder,
    ///     [Stage::new("lead", "Lead")?, Stage::new("trial", "Trial")?])?;
    /// let log = TransitionLog::read_csv(csv.as_bytes(), [referral], 0)?;
    /// let summary = log.journey("referral").unwrap().time_in_stage_summary(Scope::all());
    /// let lead = summary.completed[0].unwrap();
    /// assert_eq!((lead.count, lead.median, lead.p90), (2, 120.0, 168.0));
    /// assert_eq!(summary.completed[1], None); // trial stays are still open
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn time_in_stage_summary(&self, scope: Scope<'_>) -> TimeInStageSummary {
        const BUCKETS: usize = 1 << 12;
        let stages = self.journey.stage_count();
        // No stay is longer than the log's span, so its top bits index a row.
        let span = self.last.saturating_sub(self.earliest);
        let shift = (u32::BITS - span.leading_zeros()).saturating_sub(BUCKETS.trailing_zeros());
        let bucket = |seconds: u32| (seconds >> shift) as usize & (BUCKETS - 1);
        // One row per stage and a spare one for the pairs of transitions that are
        // not a stay (the second opens another group).
        let spare = stages;
        let mut histogram = vec![[0u32; BUCKETS]; stages + 1];
        let mut sums = vec![0u64; stages + 1];
        self.for_each_pair(scope, spare, |row, seconds| {
            histogram[row][bucket(seconds)] += 1;
            sums[row] = sums[row].wrapping_add(u64::from(seconds));
        });
        // The spare row's picker wants no quantile: it keeps nothing.
        let mut pickers: Vec<QuantilePicker> = histogram
            .iter()
            .enumerate()
            .map(|(row, counts)| QuantilePicker::new(counts, if row == spare { &[] } else { &[0.5, 0.9] }))
            .collect();
        // The wanted flags of all rows in one table: a stay costs one lookup, not a
        // walk through its row's picker.
        let wanted: Vec<[bool; BUCKETS]> =
            pickers.iter().map(|picker| std::array::from_fn(|b| picker.wants(b))).collect();
        self.for_each_pair(scope, spare, |row, seconds| {
            let b = bucket(seconds);
            if wanted[row][b] {
                pickers[row].offer(b, seconds);
            }
        });
        let completed = pickers
            .into_iter()
            .zip(&histogram)
            .zip(&sums)
            .take(stages)
            .map(|((picker, counts), &sum)| {
                let count = counts.iter().map(|&c| u64::from(c)).sum::<u64>();
                let [median, p90] = <[Option<f64>; 2]>::try_from(picker.finish()).ok()?;
                Some(DwellSummary { count, mean: sum as f64 / count as f64, median: median?, p90: p90? })
            })
            .collect();
        TimeInStageSummary { stages: self.stage_keys(), completed }
    }

    /// Calls `f(stage, seconds)` for each completed stay in `scope`, and
    /// `f(spare, _)` for each pair of consecutive transitions that is not one: one
    /// flat loop, no branch on where groups open.
    #[inline]
    fn for_each_pair(&self, scope: Scope<'_>, spare: usize, mut f: impl FnMut(usize, u32)) {
        for run in self.runs(scope) {
            let (at, stage, opens) = (&self.at[run.clone()], &self.stage[run.clone()], &self.opens[run]);
            for ((pair, &stage), &next_opens) in at.windows(2).zip(stage).zip(opens.iter().skip(1)) {
                let row = either(next_opens, spare, usize::from(stage));
                f(row, pair[1].wrapping_sub(pair[0]));
            }
        }
    }

    /// Seconds from a contact's first entry into `from` to its first later entry
    /// into `to`.
    ///
    /// # Errors
    /// [`DomainError::UnknownStage`] for a stage the journey lacks.
    pub fn time_to_convert(&self, from: &str, to: &str, scope: Scope<'_>) -> Result<Conversion, DomainError> {
        let (from, to) = (self.stage_index_of(from)?, self.stage_index_of(to)?);
        let mut result = Conversion { converted: Durations::default(), not_converted: 0 };
        for g in self.visible(scope) {
            let stages = &self.stage[g.start..g.end];
            let Some(a) = stages.iter().position(|&s| usize::from(s) == from) else { continue };
            match stages[a + 1..].iter().position(|&s| usize::from(s) == to) {
                Some(b) => result.converted.push(self.at[g.start + a + 1 + b] - self.at[g.start + a]),
                None => result.not_converted += 1,
            }
        }
        Ok(result)
    }

    /// The instant the log's latest transition of this journey was dated.
    pub fn last_at(&self) -> Option<DateTime<Utc>> {
        (!self.is_empty()).then(|| self.instant(i64::from(self.last)))
    }
}
