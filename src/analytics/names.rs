//! Matching a row's field against a few known names (journeys, stages, source kinds).
//!
//! Every row of a load names a journey, one or two stages and a source kind: comparing
//! the field with each candidate through `memcmp` was a tenth of the load. A
//! [`Names`] list compares a fixed-size fingerprint of the bytes (their length and
//! up to 16 of them, loaded as two words), bytes 8 to 16 as a third word for names of
//! up to 24 bytes, and only the middle of longer names byte by byte.

/// A fingerprint of `bytes` that, with their length, tells apart any two byte
/// strings of up to 16 bytes: the first and last 8 bytes (overlapping below 16),
/// the first and last 4 below 8, or each byte below 4.
#[inline]
fn fingerprint(bytes: &[u8]) -> (u64, u64) {
    let word =
        |at: usize| bytes.get(at..).and_then(<[u8]>::first_chunk).map_or(0, |w| u64::from_le_bytes(*w));
    let half = |at: usize| {
        bytes.get(at..).and_then(<[u8]>::first_chunk).map_or(0, |w| u64::from(u32::from_le_bytes(*w)))
    };
    let len = bytes.len();
    match len {
        8.. => (word(0), word(len - 8)),
        4..8 => (half(0) | half(len - 4) << 32, 0),
        1..4 => {
            let byte = |at: usize| u64::from(bytes.get(at).copied().unwrap_or(0));
            (byte(0) | byte(len / 2) << 8 | byte(len - 1) << 16, 0)
        }
        0 => (0, 0),
    }
}

/// Bytes 8 to 16 of `bytes` as a word (0 when shorter).
#[inline]
fn second_word(bytes: &[u8]) -> Option<u64> {
    bytes.get(8..).and_then(<[u8]>::first_chunk).map(|w| u64::from_le_bytes(*w))
}

/// One known name and its fingerprint.
struct Name {
    len: usize,
    print: (u64, u64),
    /// Bytes 8 to 16: with the fingerprint, all of a name of up to 24 bytes.
    second: Option<u64>,
    bytes: Box<[u8]>,
}

impl Name {
    /// Whether `key`, of fingerprint `print`, is this name.
    #[inline]
    fn is(&self, key: &[u8], print: (u64, u64)) -> bool {
        self.len == key.len()
            && self.print == print
            && match self.len {
                ..=16 => true,
                17..=24 => second_word(key) == self.second,
                _ => self.bytes.get(8..self.len - 8) == key.get(8..key.len() - 8),
            }
    }
}

/// A short list of names, each found by its position.
pub(crate) struct Names {
    names: Vec<Name>,
}

impl Names {
    /// The list of `names`, in order.
    pub(crate) fn new<'a>(names: impl IntoIterator<Item = &'a str>) -> Self {
        let name = |text: &str| Name {
            len: text.len(),
            print: fingerprint(text.as_bytes()),
            second: second_word(text.as_bytes()),
            bytes: text.as_bytes().into(),
        };
        Names { names: names.into_iter().map(name).collect() }
    }

    /// The position of `key` in the list, if there.
    #[inline(always)]
    pub(crate) fn position(&self, key: &[u8]) -> Option<usize> {
        let print = fingerprint(key);
        self.names.iter().position(|n| n.is(key, print))
    }

    /// Whether the name at `index` is `key` (false past the end).
    #[inline]
    pub(crate) fn is_at(&self, index: usize, key: &[u8]) -> bool {
        self.names.get(index).is_some_and(|n| n.is(key, fingerprint(key)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_found_exactly() {
        let list = [
            "",
            "a",
            "ab",
            "ba",
            "abc",
            "lead",
            "trial",
            "enrolled",
            "referral",
            "onboarding",
            "a_stage_named_at_length_16",
            "sixteen_bytes_16",
            "sixteen_bytes_17",
            "seventeen_bytes_x",
            "seventeen_bytes_y",
            "first_order_received",
            "abcdefgh_middle_12345678",
            "a much longer stage name in the middle differs",
            "a much longer stage name in the muddle differs",
        ];
        let names = Names::new(list);
        for (i, name) in list.iter().enumerate() {
            assert_eq!(names.position(name.as_bytes()), Some(i), "{name:?}");
            assert!(names.is_at(i, name.as_bytes()));
        }
        for other in
            ["b", "aa", "abd", "leaf", "trials", "enrolleD", "seventeen_bytes_z", "onboardin", "lead\0"]
                .into_iter()
                .chain([
                    "first_ordex_received",
                    "abcdefgh_middlx_12345678",
                    "a much longer stage name in the maddle differs",
                ])
        {
            assert_eq!(names.position(other.as_bytes()), None, "{other:?}");
        }
        assert!(!names.is_at(list.len(), b"lead"));
        assert!(!names.is_at(5, b"trial"));
    }
}
