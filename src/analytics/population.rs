//! Stage populations over time, by one sweep over the log.

use chrono::{DateTime, Datelike, Duration, FixedOffset, NaiveDate, NaiveDateTime, TimeZone, Timelike, Utc};

use super::contacts::ContactSet;
use super::log::JourneyLog;
use super::{Scope, add_into, either, same_stages};
use crate::error::DomainError;
use crate::model::ids::StageKey;

/// The length of a bucket.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Granularity {
    /// From one full hour to the next.
    Hour,
    /// From local midnight to local midnight.
    Day,
    /// From Monday local midnight to the next.
    Week,
    /// From the 1st of a month, local midnight, to the 1st of the next.
    Month,
}

/// Consecutive time buckets aligned to a granularity in a fixed UTC offset.
///
/// ```
/// use journeys::analytics::{Buckets, Granularity};
/// use chrono::FixedOffset;
/// let cet = FixedOffset::east_opt(3600).unwrap();
/// let days = Buckets::new(Granularity::Day, "2026-03-10T15:00:00Z".parse()?, 2, cet)?;
/// assert_eq!(days.start(0).to_rfc3339(), "2026-03-10T00:00:00+01:00");
/// assert_eq!(days.end(1).to_rfc3339(), "2026-03-12T00:00:00+01:00");
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Buckets {
    granularity: Granularity,
    /// `bounds[b]` starts bucket `b` and ends bucket `b - 1`, in Unix seconds.
    bounds: Vec<i64>,
    offset: FixedOffset,
}

fn first_start(granularity: Granularity, local: NaiveDateTime) -> NaiveDateTime {
    let day = local.date();
    let midnight = |d: NaiveDate| d.and_hms_opt(0, 0, 0).unwrap_or(local);
    match granularity {
        Granularity::Hour => day.and_hms_opt(local.hour(), 0, 0).unwrap_or(local),
        Granularity::Day => midnight(day),
        Granularity::Week => midnight(day - Duration::days(i64::from(day.weekday().num_days_from_monday()))),
        Granularity::Month => midnight(day.with_day(1).unwrap_or(day)),
    }
}

fn next_start(granularity: Granularity, start: NaiveDateTime) -> Option<NaiveDateTime> {
    match granularity {
        Granularity::Hour => start.checked_add_signed(Duration::hours(1)),
        Granularity::Day => start.checked_add_signed(Duration::days(1)),
        Granularity::Week => start.checked_add_signed(Duration::weeks(1)),
        Granularity::Month => {
            start.date().checked_add_months(chrono::Months::new(1)).and_then(|d| d.and_hms_opt(0, 0, 0))
        }
    }
}

impl Buckets {
    /// `count` buckets, the first being the one that holds `from` in local time at
    /// `offset`.
    ///
    /// # Errors
    /// [`DomainError::InvalidValue`] when the buckets run past chrono's range.
    pub fn new(
        granularity: Granularity,
        from: DateTime<Utc>,
        count: usize,
        offset: FixedOffset,
    ) -> Result<Self, DomainError> {
        let mut local = first_start(granularity, from.with_timezone(&offset).naive_local());
        let to_unix =
            |local: NaiveDateTime| offset.from_local_datetime(&local).single().map(|t| t.timestamp());
        let out_of_range = || DomainError::InvalidValue {
            field: "buckets",
            value: count.to_string(),
            reason: "run past the supported dates",
        };
        let mut bounds = Vec::with_capacity(count + 1);
        bounds.push(to_unix(local).ok_or_else(out_of_range)?);
        for _ in 0..count {
            local = next_start(granularity, local).ok_or_else(out_of_range)?;
            bounds.push(to_unix(local).ok_or_else(out_of_range)?);
        }
        Ok(Buckets { granularity, bounds, offset })
    }

    /// How many buckets.
    pub fn len(&self) -> usize {
        self.bounds.len() - 1
    }

    /// Whether there is none.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The granularity.
    pub fn granularity(&self) -> Granularity {
        self.granularity
    }

    fn instant(&self, unix: i64) -> DateTime<FixedOffset> {
        DateTime::from_timestamp(unix, 0).unwrap_or_default().with_timezone(&self.offset)
    }

    /// Where bucket `b` starts (the last bucket's end for `b` past the end).
    pub fn start(&self, b: usize) -> DateTime<FixedOffset> {
        self.instant(self.bounds[b.min(self.len())])
    }

    /// Where bucket `b` ends (the last bucket's end for `b` past the end).
    pub fn end(&self, b: usize) -> DateTime<FixedOffset> {
        self.instant(self.bounds[(b + 1).min(self.len())])
    }
}

/// Per bucket and stage, contacts in the stage at the bucket's end: those whose
/// latest transition dated before the end entered it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Population {
    /// The journey's stages in order.
    pub stages: Vec<StageKey>,
    /// The buckets.
    pub buckets: Buckets,
    /// `contacts[b * stages.len() + s]`.
    pub contacts: Vec<u64>,
}

impl Population {
    /// Contacts in stage `stage` (index) at the end of bucket `bucket`.
    pub fn get(&self, bucket: usize, stage: usize) -> u64 {
        self.contacts.get(bucket * self.stages.len() + stage).copied().unwrap_or(0)
    }

    /// Adds the population of a disjoint set of contacts over the same buckets.
    ///
    /// # Errors
    /// [`DomainError::InvalidValue`] for other stages or other buckets.
    pub fn merge(&mut self, other: &Population) -> Result<(), DomainError> {
        same_stages(&self.stages, &other.stages)?;
        if self.buckets != other.buckets {
            return Err(DomainError::InvalidValue {
                field: "buckets",
                value: other.buckets.len().to_string(),
                reason: "populations over different buckets cannot be merged",
            });
        }
        add_into(&mut self.contacts, &other.contacts);
        Ok(())
    }
}

impl JourneyLog {
    /// Contacts per stage at the end of each bucket, by one pass over the log: each
    /// stay adds +1 to its stage in the bucket it starts in and −1 in the bucket it
    /// ends in; a running sum per stage gives the populations. Stays starting before
    /// the first bucket count from the first.
    pub fn population(&self, buckets: &Buckets, segment: Option<&ContactSet>) -> Population {
        let origin = buckets.bounds[0] - self.epoch;
        let count = buckets.len();
        let mut contacts = match buckets.granularity {
            Granularity::Hour => self.sweep(buckets, segment, |t| uniform::<3_600>(t - origin, count)),
            Granularity::Day => self.sweep(buckets, segment, |t| uniform::<86_400>(t - origin, count)),
            Granularity::Week => self.sweep(buckets, segment, |t| uniform::<604_800>(t - origin, count)),
            Granularity::Month => {
                let ends: Vec<i64> = buckets.bounds[1..].iter().map(|b| b - self.epoch).collect();
                self.sweep(buckets, segment, |t| ends.partition_point(|&e| e <= t))
            }
        };
        contacts.truncate(count * self.journey.stage_count());
        Population { stages: self.stage_keys(), buckets: buckets.clone(), contacts }
    }

    /// The sweep, with `bucket_of` mapping a log time to the index of the first
    /// bucket ending after it (`count` when none does). One flat loop over the
    /// columns: a transition that opens a group takes its −1 from a spare column.
    #[inline]
    fn sweep(
        &self,
        buckets: &Buckets,
        segment: Option<&ContactSet>,
        bucket_of: impl Fn(i64) -> usize,
    ) -> Vec<u64> {
        let stages = self.journey.stage_count();
        let (width, spare) = (stages + 1, stages);
        let mut delta = vec![0i64; (buckets.len() + 1) * width];
        let mut scope = Scope::all();
        scope.segment = segment;
        for run in self.runs(scope) {
            let mut previous = spare;
            let columns = self.at[run.clone()].iter().zip(&self.stage[run.clone()]).zip(&self.opens[run]);
            for ((&at, &stage), &opens) in columns {
                let row = bucket_of(i64::from(at)) * width;
                let stage = usize::from(stage);
                delta[row + stage] += 1;
                delta[row + either(opens, spare, previous)] -= 1;
                previous = stage;
            }
        }
        let mut running = vec![0i64; stages];
        delta
            .chunks(width)
            .flat_map(|row| {
                for (r, d) in running.iter_mut().zip(row) {
                    *r += d;
                }
                running.iter().map(|&r| u64::try_from(r).unwrap_or(0)).collect::<Vec<_>>()
            })
            .collect()
    }
}

/// The bucket of offset `x` seconds from the first bucket's start, buckets `LEN`
/// seconds long (a constant, so the division is a multiplication).
#[inline]
fn uniform<const LEN: i64>(x: i64, count: usize) -> usize {
    if x < 0 { 0 } else { usize::try_from(x / LEN).map_or(count, |b| b.min(count)) }
}
