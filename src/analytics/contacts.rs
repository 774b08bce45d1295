//! Interned contacts and contact sets.
//!
//! The analytics never hold a [`ContactId`] per transition: each distinct contact is
//! interned once into a [`ContactRef`] (a `u32`), its text kept in one shared buffer.
//! A [`ContactSet`] (a bitset over those refs) is how a query is restricted to a
//! segment of contacts.

use std::fmt;

use crate::error::DomainError;
use crate::id_shape::Shape;
use crate::model::ids::ContactId;

/// A contact interned in a [`ContactTable`]: an index, valid for that table (and every
/// log built with it).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ContactRef(pub(crate) u32);

impl ContactRef {
    /// The index of the contact in its table (0, 1, 2, … in order of first sight).
    pub fn index(self) -> usize {
        self.0 as usize
    }
}

/// The distinct contacts of a log, each stored once.
///
/// Names live in one text buffer, found by an open-addressing table of `u32` slots.
/// A table built by [`LogBuilder`](super::LogBuilder) keeps ids made of a fixed
/// prefix and a fixed number of digits (`c0000042` — the usual shape of host ids)
/// apart: they come first, in number order, and are found by their number in a
/// bitset with one count per 64 numbers, so reading a log never looks them up in a
/// table much larger than the CPU caches.
///
/// ```
/// use journeys::analytics::ContactTable;
/// let mut contacts = ContactTable::default();
/// let ada = contacts.intern("ada")?;
/// assert_eq!(contacts.intern("ada")?, ada);
/// assert_eq!(contacts.name(ada), "ada");
/// assert_eq!(contacts.get("bob"), None);
/// # Ok::<(), journeys::DomainError>(())
/// ```
#[derive(Clone, Default)]
pub struct ContactTable {
    text: String,
    /// Contacts `0..numbered` (the ranked ones) are `width` bytes each, one after
    /// another from the start of `text`: their ends need not be stored.
    numbered: usize,
    width: usize,
    /// `ends[i]` is where contact `numbered + i`'s text ends in `text`.
    ends: Vec<u32>,
    /// Contacts `0..ranked.count`: ids of one shape, by number.
    ranked: Option<Ranked>,
    /// The other contacts: 0 is empty, else the contact's index + 1.
    slots: Vec<u32>,
    /// How many contacts `slots` holds.
    hashed: usize,
}

/// A set of numbers with their ranks: a bitset and, per 64-bit word, how many
/// numbers the words before it hold.
#[derive(Clone)]
struct Ranked {
    shape: Shape,
    bits: Vec<u64>,
    before: Vec<u32>,
}

impl Ranked {
    #[inline]
    fn rank(&self, n: usize) -> Option<u32> {
        let (word, bit) = (n / 64, n % 64);
        let w = *self.bits.get(word)?;
        (w >> bit & 1 == 1).then(|| self.before[word] + (w & ((1u64 << bit) - 1)).count_ones())
    }
}

impl fmt::Debug for ContactTable {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ContactTable").field("len", &self.len()).finish()
    }
}

fn hash(bytes: &[u8]) -> u64 {
    const K: u64 = 0x517c_c1b7_2722_0a95;
    let mut h = bytes.len() as u64;
    let mut chunks = bytes.chunks_exact(8);
    for chunk in &mut chunks {
        let mut word = [0u8; 8];
        word.copy_from_slice(chunk);
        h = (h.rotate_left(5) ^ u64::from_le_bytes(word)).wrapping_mul(K);
    }
    let rest = chunks.remainder();
    if !rest.is_empty() {
        let mut word = [0u8; 8];
        word[..rest.len()].copy_from_slice(rest);
        h = (h.rotate_left(5) ^ u64::from_le_bytes(word)).wrapping_mul(K);
    }
    // Fold the high half down and multiply again: slots are taken from the top bits,
    // which then depend on every input byte.
    (h ^ (h >> 32)).wrapping_mul(0x9e37_79b9_7f4a_7c15)
}

/// The slot of hash `h` in a table of `len` slots (a power of two): its top bits.
#[inline]
fn slot_of(h: u64, len: usize) -> usize {
    (h >> (64 - len.trailing_zeros())) as usize
}

impl ContactTable {
    /// How many contacts are interned.
    pub fn len(&self) -> usize {
        self.numbered + self.ends.len()
    }

    /// Whether no contact is interned.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The text of contact `contact`.
    ///
    /// A ref from another table may name another contact or none; none reads as "".
    pub fn name(&self, contact: ContactRef) -> &str {
        let i = contact.index();
        let numbered_end = self.numbered * self.width;
        let (start, end) = match i.checked_sub(self.numbered) {
            None => (i * self.width, (i + 1) * self.width),
            Some(j) => {
                let start =
                    if j == 0 { numbered_end } else { self.ends.get(j - 1).map_or(0, |&e| e as usize) };
                (start, self.ends.get(j).map_or(start, |&e| e as usize))
            }
        };
        self.text.get(start..end).unwrap_or("")
    }

    /// The contact whose id is `id`, if interned.
    pub fn get(&self, id: &str) -> Option<ContactRef> {
        self.ranked_ref(id.as_bytes()).or_else(|| self.find_slot(id).1)
    }

    fn ranked_ref(&self, id: &[u8]) -> Option<ContactRef> {
        let ranked = self.ranked.as_ref()?;
        ranked.rank(ranked.shape.number(id)?).map(ContactRef)
    }

    /// The slot where `id` is or would go, and the contact if it is there.
    fn find_slot(&self, id: &str) -> (usize, Option<ContactRef>) {
        if self.slots.is_empty() {
            return (0, None);
        }
        let mask = self.slots.len() - 1;
        let mut slot = slot_of(hash(id.as_bytes()), self.slots.len());
        loop {
            match self.slots[slot] {
                0 => return (slot, None),
                n if self.name(ContactRef(n - 1)) == id => return (slot, Some(ContactRef(n - 1))),
                _ => slot = (slot + 1) & mask,
            }
        }
    }

    /// The contact whose id is `id`, interning it (after checking it as a
    /// [`ContactId`]) when new.
    ///
    /// # Errors
    /// [`DomainError::InvalidId`] for text that is not a valid contact id, and
    /// [`DomainError::InvalidValue`] past 2³² − 2 contacts or 4 GiB of ids.
    pub fn intern(&mut self, id: &str) -> Result<ContactRef, DomainError> {
        if let Some(found) = self.ranked_ref(id.as_bytes()) {
            return Ok(found);
        }
        if self.slots.len() < 2 * (self.hashed + 1) {
            self.grow();
        }
        match self.find_slot(id) {
            (_, Some(found)) => Ok(found),
            (slot, None) => {
                ContactId::validate(id)?;
                let contact = self.push_text(id)?;
                self.slots[slot] = contact.0 + 1;
                self.hashed += 1;
                Ok(contact)
            }
        }
    }

    /// Appends a new contact's text.
    fn push_text(&mut self, id: &str) -> Result<ContactRef, DomainError> {
        let too_many = |reason| DomainError::InvalidValue { field: "contacts", value: id.to_owned(), reason };
        let index = u32::try_from(self.len())
            .ok()
            .filter(|&n| n < u32::MAX - 1)
            .ok_or_else(|| too_many("more than 2^32 - 2 contacts"))?;
        self.text.push_str(id);
        let end = u32::try_from(self.text.len()).map_err(|_| too_many("contact ids exceed 4 GiB of text"))?;
        self.ends.push(end);
        Ok(ContactRef(index))
    }

    /// Rebuilds the hashed table with room for twice its ids.
    fn grow(&mut self) {
        let size = (2 * (self.hashed + 1)).next_power_of_two().max(16);
        let mut slots = vec![0u32; size];
        let mask = size - 1;
        let first = self.len() - self.hashed;
        for i in first..self.len() {
            let contact = ContactRef(i as u32);
            let mut slot = slot_of(hash(self.name(contact).as_bytes()), size);
            while slots[slot] != 0 {
                slot = (slot + 1) & mask;
            }
            slots[slot] = contact.0 + 1;
        }
        self.slots = slots;
    }

    /// Bytes of heap the table uses.
    pub fn heap_bytes(&self) -> usize {
        let ranked = self.ranked.as_ref().map_or(0, |r| 8 * r.bits.capacity() + 4 * r.before.capacity());
        self.text.capacity() + 4 * (self.ends.capacity() + self.slots.capacity()) + ranked
    }

    /// Every contact in index order.
    pub fn iter(&self) -> impl Iterator<Item = (ContactRef, &str)> + '_ {
        (0..self.len() as u32).map(|i| (ContactRef(i), self.name(ContactRef(i))))
    }
}

/// Numbers a log's contacts while it is read, without touching a large table per
/// row: ids of the first id's shape become their number, others an index in a
/// hashed table. [`finish`](Self::finish) marks the numbers of all keys in a bitset
/// (in one pass: marking each as it was read waited on a cache miss, the reader's
/// buffers crowding the bitset out), turns both into the final [`ContactTable`] and
/// says how to map each key.
#[derive(Default)]
pub(crate) struct ContactKeys {
    shape: Option<Shape>,
    /// Numbers seen, marked by `finish`; grows while numbers stay dense, then is
    /// frozen.
    seen: Vec<u64>,
    frozen: bool,
    others: ContactTable,
}

/// Keys at or above this are `OTHER | index in the hashed table`.
pub(crate) const OTHER: u32 = 1 << 31;
/// Numbers stay below this floor, or below this many times the numbers seen.
const DENSE_FLOOR: usize = 1 << 24;
const DENSE_FACTOR: usize = 16;

impl ContactKeys {
    /// The key of contact `id`.
    #[inline]
    pub(crate) fn key(&mut self, id: &[u8]) -> Result<u32, DomainError> {
        match self.shape.as_ref().and_then(|s| s.number(id)) {
            Some(n) if n / 64 < self.seen.len() => Ok(n as u32),
            _ => self.new_key(id),
        }
    }

    /// The key of contact `id` when it is not a number already in range: the first
    /// id (which sets the shape), a number past the range (which grows it while the
    /// numbers stay dense), or an id of another shape.
    #[inline(never)]
    fn new_key(&mut self, id: &[u8]) -> Result<u32, DomainError> {
        if self.shape.is_none() && self.seen.is_empty() && self.others.is_empty() {
            let text = utf8_id(id)?;
            ContactId::validate(text)?;
            self.shape = Shape::of(text);
        }
        if let Some(n) = self.shape.as_ref().and_then(|s| s.number(id)) {
            let word = n / 64;
            if word >= self.seen.len() && !self.frozen {
                if n < DENSE_FLOOR.max(DENSE_FACTOR * 64 * self.seen.len()) {
                    self.seen.resize(word + 1, 0);
                } else {
                    self.frozen = true;
                }
            }
            if word < self.seen.len() {
                return Ok(n as u32);
            }
        }
        Ok(OTHER | self.others.intern(utf8_id(id)?)?.0)
    }

    /// The id of contact `key` (a key given out).
    pub(crate) fn name(&self, key: u32) -> String {
        match &self.shape {
            Some(shape) if key & OTHER == 0 => format!("{}{key:0width$}", shape.prefix, width = shape.width),
            _ => self.others.name(ContactRef(key & !OTHER)).to_owned(),
        }
    }

    /// Marks the numbered contacts of `keys` as seen (every key given out must be
    /// marked before [`finish`](Self::finish)).
    pub(crate) fn mark(&mut self, keys: &[u32]) {
        for &key in keys.iter().filter(|&&key| key & OTHER == 0) {
            if let Some(w) = self.seen.get_mut(key as usize / 64) {
                *w |= 1 << (key % 64);
            }
        }
    }

    /// The final table of the contacts marked, and a map from keys to its refs.
    pub(crate) fn finish(self) -> Result<(ContactTable, impl Fn(u32) -> u32 + use<>), DomainError> {
        let ContactKeys { shape, seen, others, .. } = self;
        let mut table = ContactTable::default();
        let mut before = Vec::with_capacity(seen.len());
        let mut count = 0u32;
        for &w in &seen {
            before.push(count);
            count += w.count_ones();
        }
        if let Some(shape) = shape.filter(|_| count > 0) {
            // The ids are written as bytes and checked as UTF-8 once (a check per id
            // was a tenth of this pass). All have the same width, so where each ends
            // is not stored; the ends of the others, after them, must fit a u32.
            let width = shape.prefix.len() + shape.width;
            let mut text = Vec::with_capacity(count as usize * width);
            if u32::try_from(count as usize * width).is_err() {
                return Err(DomainError::InvalidValue {
                    field: "contacts",
                    value: count.to_string(),
                    reason: "contact ids exceed 4 GiB of text",
                });
            }
            (table.numbered, table.width) = (count as usize, width);
            table.ends.reserve(others.len());
            // One id at a time: the prefix stays, and the digits are counted up from
            // the previous number's when the numbers follow each other (as they do
            // where the ids are dense), else rewritten.
            let mut id = shape.prefix.as_bytes().to_vec();
            id.resize(shape.prefix.len() + shape.width, b'0');
            let mut next = None;
            for (word, &w) in seen.iter().enumerate() {
                let mut bits = w;
                while bits != 0 {
                    let n = word * 64 + bits.trailing_zeros() as usize;
                    bits &= bits - 1;
                    let digits = &mut id[shape.prefix.len()..];
                    if next == Some(n) {
                        for d in digits.iter_mut().rev() {
                            let carry = *d == b'9';
                            *d = if carry { b'0' } else { *d + 1 };
                            if !carry {
                                break;
                            }
                        }
                    } else {
                        let mut rest = n;
                        for d in digits.iter_mut().rev() {
                            *d = b'0' + (rest % 10) as u8;
                            rest /= 10;
                        }
                    }
                    next = Some(n + 1);
                    text.extend_from_slice(&id);
                }
            }
            table.text = String::from_utf8(text).map_err(|_| DomainError::InvalidValue {
                field: "contacts",
                value: shape.prefix.clone(),
                reason: "contact ids are not UTF-8",
            })?;
            table.ranked = Some(Ranked { shape, bits: seen, before });
        }
        for (_, name) in others.iter() {
            table.intern(name)?;
        }
        let ranked = table.ranked.clone();
        let map = move |key: u32| {
            if key & OTHER != 0 {
                count + (key & !OTHER)
            } else {
                ranked.as_ref().and_then(|r| r.rank(key as usize)).unwrap_or(0)
            }
        };
        Ok((table, map))
    }
}

fn utf8_id(id: &[u8]) -> Result<&str, DomainError> {
    std::str::from_utf8(id).map_err(|_| DomainError::InvalidId {
        field: "contact",
        value: String::from_utf8_lossy(id).into_owned(),
        reason: "is not UTF-8",
    })
}

/// A set of contacts of one [`ContactTable`]: the segment a query is restricted to.
///
/// Segments (by attribute, by entry source, or the host's own lists) all come down
/// to this set; every query takes an optional one.
///
/// ```
/// use journeys::analytics::{ContactSet, ContactTable};
/// let mut contacts = ContactTable::default();
/// let (ada, bob) = (contacts.intern("ada")?, contacts.intern("bob")?);
/// let mut vip = ContactSet::new(&contacts);
/// vip.insert(ada);
/// assert!(vip.contains(ada) && !vip.contains(bob));
/// assert_eq!(vip.len(), 1);
/// # Ok::<(), journeys::DomainError>(())
/// ```
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ContactSet {
    words: Vec<u64>,
}

impl ContactSet {
    /// An empty set for the contacts of `table`.
    pub fn new(table: &ContactTable) -> Self {
        ContactSet { words: vec![0; table.len().div_ceil(64)] }
    }

    /// The set of the contacts of `table` for which `keep` holds.
    pub fn from_fn(table: &ContactTable, mut keep: impl FnMut(ContactRef, &str) -> bool) -> Self {
        let mut set = ContactSet::new(table);
        for (contact, name) in table.iter() {
            if keep(contact, name) {
                set.insert(contact);
            }
        }
        set
    }

    /// Adds `contact` (growing the set for a contact interned after it was made).
    pub fn insert(&mut self, contact: ContactRef) {
        let (word, bit) = (contact.index() / 64, contact.index() % 64);
        if word >= self.words.len() {
            self.words.resize(word + 1, 0);
        }
        self.words[word] |= 1 << bit;
    }

    /// Whether `contact` is in the set.
    #[inline]
    pub fn contains(&self, contact: ContactRef) -> bool {
        let (word, bit) = (contact.index() / 64, contact.index() % 64);
        self.words.get(word).is_some_and(|w| w >> bit & 1 == 1)
    }

    /// The contacts in both sets.
    #[must_use]
    pub fn intersection(&self, other: &ContactSet) -> ContactSet {
        ContactSet { words: self.words.iter().zip(&other.words).map(|(a, b)| a & b).collect() }
    }

    /// How many contacts are in the set.
    pub fn len(&self) -> usize {
        self.words.iter().map(|w| w.count_ones() as usize).sum()
    }

    /// Whether the set is empty.
    pub fn is_empty(&self) -> bool {
        self.words.iter().all(|&w| w == 0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbered_ids_are_written_back_in_number_order() {
        let ids =
            ["c0002001", "c0000009", "c0000010", "c0000099", "c0000100", "c0001999", "c0002000", "c0000005"];
        let mut keys = ContactKeys::default();
        let numbers: Vec<u32> = ids.iter().map(|id| keys.key(id.as_bytes()).unwrap()).collect();
        let other = keys.key(b"ada").unwrap();
        keys.mark(&numbers);
        let (table, final_ref) = keys.finish().unwrap();
        let mut sorted = ids.to_vec();
        sorted.sort_unstable();
        sorted.push("ada");
        assert_eq!(table.iter().map(|(_, name)| name).collect::<Vec<_>>(), sorted);
        for (id, key) in ids.iter().zip(numbers).chain([(&"ada", other)]) {
            assert_eq!(table.name(ContactRef(final_ref(key))), *id);
        }
    }
}
