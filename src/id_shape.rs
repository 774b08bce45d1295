//! [`Shape`]: ids made of a fixed prefix and a fixed number of digits (`c0000042`),
//! the usual shape of host ids, told apart by their number without hashing or
//! comparing text. An id of a shape has exactly one number and a number exactly one
//! id, so a table by number needs no check of the text.

/// The shape `prefix` + `width` digits of an id.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Shape {
    pub(crate) prefix: String,
    pub(crate) width: usize,
    /// For a prefix of up to 8 bytes: its bytes as the low bytes of a word, and the
    /// mask of those bytes (an id of 8 bytes or more has its prefix checked as one
    /// word rather than by `memcmp`).
    prefix_word: Option<(u64, u64)>,
}

impl Shape {
    /// The shape of `id` when it ends in 1 to 9 digits.
    pub(crate) fn of(id: &str) -> Option<Self> {
        let digits = id.bytes().rev().take_while(u8::is_ascii_digit).count();
        let prefix = &id.as_bytes()[..id.len() - digits];
        let prefix_word = (prefix.len() <= 8).then(|| {
            let mut word = [0u8; 8];
            word[..prefix.len()].copy_from_slice(prefix);
            (u64::from_le_bytes(word), u64::MAX.checked_shr(64 - 8 * prefix.len() as u32).unwrap_or(0))
        });
        (1..=9).contains(&digits).then(|| Shape {
            prefix: id[..id.len() - digits].to_owned(),
            width: digits,
            prefix_word,
        })
    }

    /// The number of `id` if it has this shape.
    #[inline]
    pub(crate) fn number(&self, id: &[u8]) -> Option<usize> {
        if id.len() != self.prefix.len() + self.width {
            return None;
        }
        match (id.first_chunk::<8>(), id.last_chunk::<8>(), self.prefix_word) {
            (Some(first), Some(last), Some((prefix, mask))) if self.width <= 8 => {
                (u64::from_le_bytes(*first) & mask == prefix)
                    .then(|| eight_digits(*last, self.width))
                    .flatten()
            }
            _ => id
                .strip_prefix(self.prefix.as_bytes())?
                .iter()
                .try_fold(0usize, |n, &d| d.is_ascii_digit().then(|| n * 10 + usize::from(d - b'0'))),
        }
    }
}

/// The number written by the last `width` (1 to 8) of 8 bytes, if they are digits:
/// checked and read as one word rather than digit by digit.
#[inline]
fn eight_digits(bytes: [u8; 8], width: usize) -> Option<usize> {
    const ZEROS: u64 = u64::from_le_bytes(*b"00000000");
    const HIGH: u64 = 0xF0F0_F0F0_F0F0_F0F0;
    // The bytes before the number (the id's prefix) are taken as leading zeros.
    let lead = u64::MAX.checked_shr(64 - 8 * (8 - width as u32)).unwrap_or(0);
    let word = (u64::from_le_bytes(bytes) & !lead) | (ZEROS & lead);
    // Each digit becomes its value; any other byte sets a bit of the high nibbles.
    let x = word ^ ZEROS;
    if (x & HIGH) | (x.wrapping_add(0x0606_0606_0606_0606) & HIGH) != 0 {
        return None;
    }
    // Pairs, then fours, then all eight digits combined (the first is the lowest byte).
    let x = (x.wrapping_mul(10) + (x >> 8)) & 0x00FF_00FF_00FF_00FF;
    let x = (x.wrapping_mul(100) + (x >> 16)) & 0x0000_FFFF_0000_FFFF;
    let x = (x.wrapping_mul(10_000) + (x >> 32)) & 0xFFFF_FFFF;
    Some(x as usize)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The number of `id` under `shape`, digit by digit.
    fn by_digits(shape: &Shape, id: &str) -> Option<usize> {
        let rest = id.strip_prefix(shape.prefix.as_str()).filter(|r| r.len() == shape.width)?;
        rest.bytes().all(|b| b.is_ascii_digit()).then(|| rest.parse().ok()).flatten()
    }

    #[test]
    fn numbers_read_as_one_word_agree_with_digits() {
        let ids = [
            "c0691935",
            "c0000000",
            "c9999999",
            "c069193",
            "c06919350",
            "c06a1935",
            "c0691:35",
            "c069193/",
            "d0691935",
            "1",
            "12345678",
            "99999999",
            "123456789",
            "x1",
            "contact-0000042",
            "contact-000004a",
            "ab12",
            "ab1",
            "abc12345678",
            "abc1234567",
        ];
        for shape_of in ["c0000001", "1", "12345678", "123456789", "contact-0000001", "ab12", "abc12345678"] {
            let shape = Shape::of(shape_of).unwrap();
            for id in ids {
                assert_eq!(shape.number(id.as_bytes()), by_digits(&shape, id), "{shape:?} {id}");
            }
        }
    }
}
