//! How long contacts stay: time in stage and time to convert.

use chrono::{DateTime, Utc};

use super::log::JourneyLog;
use super::{Scope, same_stages};
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
        let mut scratch = self.seconds.clone();
        quantile_in(&mut scratch, q)
    }

    /// Count, mean, median and p90; `None` when empty.
    pub fn summary(&self) -> Option<DwellSummary> {
        let mut scratch = self.seconds.clone();
        let p90 = quantile_in(&mut scratch, 0.9)?;
        let median = quantile_in(&mut scratch, 0.5)?;
        let sum: u64 = self.seconds.iter().map(|&s| u64::from(s)).sum();
        let count = self.seconds.len() as u64;
        Some(DwellSummary { count, mean: sum as f64 / count as f64, median, p90 })
    }
}

impl FromIterator<u32> for Durations {
    fn from_iter<I: IntoIterator<Item = u32>>(iter: I) -> Self {
        Durations { seconds: iter.into_iter().collect() }
    }
}

/// The quantile by selection (linear time), reordering `values`.
fn quantile_in(values: &mut [u32], q: f64) -> Option<f64> {
    let n = values.len();
    if n == 0 || !(0.0..=1.0).contains(&q) {
        return None;
    }
    let pos = (n - 1) as f64 * q;
    let lo = (pos.floor() as usize).min(n - 1);
    let frac = pos - lo as f64;
    let (_, &mut low, above) = values.select_nth_unstable(lo);
    let low = f64::from(low);
    if frac == 0.0 || above.is_empty() {
        return Some(low);
    }
    let high = above.iter().copied().min().map_or(low, f64::from);
    Some(low + (high - low) * frac)
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
        let mut completed = vec![Durations::default(); n];
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
