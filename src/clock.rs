//! Where the engine gets the time: injected, so tests and replays are deterministic.

use std::cell::Cell;
use std::sync::Mutex;
use std::time::{SystemTime, UNIX_EPOCH};

use chrono::{DateTime, Duration, NaiveDate, NaiveTime, Utc};

/// A source of the current instant.
pub trait Clock: Send + Sync {
    /// The current instant.
    fn now(&self) -> DateTime<Utc>;
}

/// The system's wall clock.
#[derive(Clone, Copy, Debug, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    /// The instant [`Utc::now`] gives, read as it does but with the calendar date of
    /// the day kept per thread: turning the day's number into a date is half of
    /// `Utc::now`'s work, and every move reads the clock.
    #[inline]
    fn now(&self) -> DateTime<Utc> {
        thread_local! {
            static TODAY: Cell<Option<(u64, NaiveDate)>> = const { Cell::new(None) };
        }
        let Ok(since_epoch) = SystemTime::now().duration_since(UNIX_EPOCH) else {
            return Utc::now();
        };
        TODAY
            .with(|today| at(since_epoch.as_secs(), since_epoch.subsec_nanos(), today))
            .unwrap_or_else(Utc::now)
    }
}

/// The instant `secs` seconds and `nanos` nanoseconds after the Unix epoch, as
/// [`DateTime::from_timestamp`] gives it, taking the date from `today` when it holds
/// that day's and storing it there otherwise. `None` past the dates chrono holds.
#[inline]
fn at(secs: u64, nanos: u32, today: &Cell<Option<(u64, NaiveDate)>>) -> Option<DateTime<Utc>> {
    const SECONDS_PER_DAY: u64 = 86_400;
    /// Days from 0001-01-01 (day 1 of the common era) to 1970-01-01.
    const EPOCH_DAYS_FROM_CE: i32 = 719_163;
    let day = secs / SECONDS_PER_DAY;
    let date = match today.get() {
        Some((cached, date)) if cached == day => date,
        _ => {
            let days = i32::try_from(day).ok()?.checked_add(EPOCH_DAYS_FROM_CE)?;
            let date = NaiveDate::from_num_days_from_ce_opt(days)?;
            today.set(Some((day, date)));
            date
        }
    };
    let second = u32::try_from(secs % SECONDS_PER_DAY).ok()?;
    Some(date.and_time(NaiveTime::from_num_seconds_from_midnight_opt(second, nanos)?).and_utc())
}

/// A clock that shows what it is set to: for tests, examples and replays.
///
/// ```
/// use journeys::{Clock, ManualClock};
/// let clock = ManualClock::new("2026-01-05T13:04:11Z".parse().unwrap());
/// clock.advance(chrono::Duration::hours(1));
/// assert_eq!(clock.now().to_rfc3339(), "2026-01-05T14:04:11+00:00");
/// ```
#[derive(Debug)]
pub struct ManualClock {
    now: Mutex<DateTime<Utc>>,
}

impl ManualClock {
    /// A clock showing `now`.
    pub fn new(now: DateTime<Utc>) -> Self {
        ManualClock { now: Mutex::new(now) }
    }

    /// Sets the instant shown.
    pub fn set(&self, now: DateTime<Utc>) {
        *self.now.lock().unwrap_or_else(std::sync::PoisonError::into_inner) = now;
    }

    /// Moves the instant shown by `by`.
    pub fn advance(&self, by: Duration) {
        let mut now = self.now.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        *now += by;
    }
}

impl Clock for ManualClock {
    fn now(&self) -> DateTime<Utc> {
        *self.now.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

impl<C: Clock + ?Sized> Clock for std::sync::Arc<C> {
    fn now(&self) -> DateTime<Utc> {
        (**self).now()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn at_agrees_with_chrono_across_days_and_with_a_stale_cache() {
        let today = Cell::new(None);
        // Around midnight, a leap day, the epoch and far ahead, each twice: once
        // computing the date and once taking it from the cache (or after another day's).
        let seconds = [0, 86_399, 86_400, 951_782_399, 951_782_400, 1_767_225_599, 1_767_225_600, 1 << 36];
        for secs in seconds.into_iter().chain(seconds.into_iter().rev()).chain(seconds) {
            for nanos in [0, 999_999_999] {
                let expected = i64::try_from(secs).ok().and_then(|s| DateTime::from_timestamp(s, nanos));
                assert_eq!(at(secs, nanos, &today), expected, "{secs}.{nanos}");
            }
        }
    }

    #[test]
    fn at_is_none_past_chronos_dates() {
        assert_eq!(at(u64::MAX, 0, &Cell::new(None)), None);
    }

    #[test]
    fn system_clock_reads_what_utc_now_reads() {
        let before = Utc::now();
        let now = SystemClock.now();
        assert!(before <= now && now <= Utc::now());
    }
}
