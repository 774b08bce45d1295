//! The CSV formats' timestamps, read fast: both the analytics loader and the bulk
//! import read millions of times of one shape, mostly in time order. Other RFC 3339
//! shapes are left to each caller's chrono path, which reports its own error.

/// Reads times of the shape `YYYY-MM-DDTHH:MM:SSZ` as seconds since the Unix epoch,
/// keeping the minute and the day of the previous time read (rows in time order
/// share them: a time whose first 16 bytes are the previous one's reads only its
/// seconds).
#[derive(Debug, Default)]
pub(crate) struct TimeParser {
    /// The previous fast-path row's first 16 bytes (`YYYY-MM-DDTHH:MM`) as two words,
    /// and its time less its seconds.
    minute: Option<((u64, u64), i64)>,
    /// The previous fast-path row's date text, as one word and two bytes.
    date: (u64, u16),
    days: Option<i64>,
}

impl TimeParser {
    /// Exactly `YYYY-MM-DDTHH:MM:SSZ` with a valid date and time (no leap second);
    /// `None` for anything else.
    #[inline]
    pub(crate) fn fast(&mut self, t: &[u8]) -> Option<i64> {
        let t: &[u8; 20] = t.try_into().ok()?;
        let word = |at: usize| t[at..].first_chunk().map_or(0, |w| u64::from_le_bytes(*w));
        let head = (word(0), word(8));
        // `:SSZ` as one word: each digit becomes its value, the colon and the Z 0.
        let x = u32::from_le_bytes([t[16], t[17], t[18], t[19]]) ^ u32::from_le_bytes(*b":00Z");
        const DIGITS: u32 = 0x00F0_F000;
        if (x & 0xFF00_00FF) | (x & DIGITS) | (x.wrapping_add(0x0006_0600) & DIGITS) != 0 {
            return None;
        }
        let ss = i64::from((x >> 8) & 0xFF) * 10 + i64::from((x >> 16) & 0xFF);
        if ss >= 60 {
            return None;
        }
        match self.minute {
            Some((text, minute)) if text == head => Some(minute + ss),
            _ => {
                let minute = self.minute_of(t)?;
                self.minute = Some((head, minute));
                Some(minute + ss)
            }
        }
    }

    /// The time of `YYYY-MM-DDTHH:MM` (the seconds checked by the caller), if valid.
    fn minute_of(&mut self, t: &[u8; 20]) -> Option<i64> {
        if t[10] != b'T' || t[13] != b':' {
            return None;
        }
        let date =
            (t[..8].first_chunk().map_or(0, |w| u64::from_le_bytes(*w)), u16::from_le_bytes([t[8], t[9]]));
        let days = match self.days {
            Some(days) if date == self.date => days,
            _ => {
                let days = parse_date(&t[..10])?;
                (self.date, self.days) = (date, Some(days));
                days
            }
        };
        let digit = |at: usize| t[at].is_ascii_digit().then(|| i64::from(t[at] - b'0'));
        let (hh, mm) = (digit(11)? * 10 + digit(12)?, digit(14)? * 10 + digit(15)?);
        (hh < 24 && mm < 60).then_some(days * 86_400 + hh * 3600 + mm * 60)
    }
}

/// Days since 1970-01-01 of a valid `YYYY-MM-DD`.
fn parse_date(t: &[u8]) -> Option<i64> {
    if t[4] != b'-' || t[7] != b'-' {
        return None;
    }
    let num = |range: std::ops::Range<usize>| {
        t[range].iter().try_fold(0i64, |n, &b| b.is_ascii_digit().then(|| n * 10 + i64::from(b - b'0')))
    };
    let (y, m, d) = (num(0..4)?, num(5..7)?, num(8..10)?);
    ((1..=12).contains(&m) && d >= 1 && d <= days_in_month(y, m)).then(|| days_from_civil(y, m, d))
}

fn days_in_month(y: i64, m: i64) -> i64 {
    match m {
        2 if (y % 4 == 0 && y % 100 != 0) || y % 400 == 0 => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

/// Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's algorithm).
fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::DateTime;

    #[test]
    fn agrees_with_chrono() {
        for text in
            ["1970-01-01T00:00:00Z", "2026-01-05T13:04:11Z", "2024-02-29T23:59:59Z", "1899-12-31T12:00:00Z"]
        {
            let chrono = DateTime::parse_from_rfc3339(text).unwrap().timestamp();
            assert_eq!(TimeParser::default().fast(text.as_bytes()), Some(chrono), "{text}");
        }
        let mut times = TimeParser::default();
        assert_eq!(times.fast(b"2026-02-29T00:00:00Z"), None);
        assert_eq!(times.fast(b"2026-01-05T13:04:11+01:00"), None);
        // The day kept from the previous row is reused only for the same date text.
        assert_eq!(times.fast(b"2026-01-05T00:00:00Z"), Some(1_767_571_200));
        assert_eq!(times.fast(b"2026-01-05T24:00:00Z"), None);
        assert_eq!(times.fast(b"2026-01-06T00:00:01Z"), Some(1_767_657_601));
        // So is the minute, for the same first 16 bytes; the seconds are still checked.
        assert_eq!(times.fast(b"2026-01-06T00:00:59Z"), Some(1_767_657_659));
        for bad in
            ["2026-01-06T00:00:60Z", "2026-01-06T00:00:5aZ", "2026-01-06T00:00:05z", "2026-01-06T00:00;05Z"]
        {
            assert_eq!(times.fast(bad.as_bytes()), None, "{bad}");
        }
        assert_eq!(times.fast(b"2026-01-06T00:01:00Z"), Some(1_767_657_660));
    }
}
