//! Interned contacts and contact sets.
//!
//! The analytics never hold a [`ContactId`] per transition: each distinct contact is
//! interned once into a [`ContactRef`] (a `u32`), its text kept in one shared buffer.
//! A [`ContactSet`] (a bitset over those refs) is how a query is restricted to a
//! segment of contacts.

use std::fmt;

use crate::error::DomainError;
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
/// Names live in one text buffer. Ids made of a fixed prefix and a fixed number of
/// digits (`c0000042`, `user-000123` — the usual shape of host ids) are found by
/// their number in a dense array, one memory access per lookup; other ids by an
/// open-addressing table of `u32` slots. A million contacts cost about 12 bytes
/// each beside their text.
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
    /// `ends[i]` is where contact `i`'s text ends in `text`.
    ends: Vec<u32>,
    /// Ids of the first id's shape, by number; `None` once an id of that shape is
    /// too sparse to keep them dense.
    numbered: Option<Numbered>,
    /// The other ids: 0 is empty, else the contact's index + 1.
    slots: Vec<u32>,
    /// How many ids `slots` holds.
    hashed: usize,
}

/// Ids `prefix` + `width` digits, by their number.
#[derive(Clone)]
struct Numbered {
    prefix: String,
    width: usize,
    /// `refs[n]`: 0, or the index + 1 of the contact numbered `n`.
    refs: Vec<u32>,
}

/// The numbers of a [`Numbered`] stay below this floor, or below this many times
/// the contacts interned, whichever is more.
const DENSE_FLOOR: usize = 1 << 22;
const DENSE_FACTOR: usize = 16;

impl Numbered {
    /// The shape of `id` when it ends in 1 to 9 digits.
    fn of_first(id: &str) -> Option<Self> {
        let digits = id.bytes().rev().take_while(u8::is_ascii_digit).count();
        (1..=9).contains(&digits).then(|| Numbered {
            prefix: id[..id.len() - digits].to_owned(),
            width: digits,
            refs: Vec::new(),
        })
    }

    /// The number of `id` if it has this shape.
    #[inline]
    fn number(&self, id: &str) -> Option<usize> {
        let rest = id.strip_prefix(self.prefix.as_str()).filter(|r| r.len() == self.width)?;
        rest.bytes().try_fold(0usize, |n, d| d.is_ascii_digit().then(|| n * 10 + usize::from(d - b'0')))
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
    /// A table sized for about `contacts` contacts.
    pub fn with_capacity(contacts: usize) -> Self {
        ContactTable { ends: Vec::with_capacity(contacts), ..ContactTable::default() }
    }

    /// How many contacts are interned.
    pub fn len(&self) -> usize {
        self.ends.len()
    }

    /// Whether no contact is interned.
    pub fn is_empty(&self) -> bool {
        self.ends.is_empty()
    }

    /// The text of contact `contact`.
    ///
    /// A ref from another table may name another contact or none; none reads as "".
    pub fn name(&self, contact: ContactRef) -> &str {
        let i = contact.index();
        let start = if i == 0 { 0 } else { self.ends.get(i - 1).map_or(0, |&e| e as usize) };
        let end = self.ends.get(i).map_or(start, |&e| e as usize);
        self.text.get(start..end).unwrap_or("")
    }

    /// The contact whose id is `id`, if interned.
    pub fn get(&self, id: &str) -> Option<ContactRef> {
        if let Some(numbered) = &self.numbered {
            if let Some(n) = numbered.number(id) {
                return numbered.refs.get(n).filter(|&&r| r != 0).map(|&r| ContactRef(r - 1));
            }
        }
        self.find_slot(id).1
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
        if self.is_empty() && self.numbered.is_none() {
            self.numbered = Numbered::of_first(id);
        }
        let limit = DENSE_FLOOR.max(DENSE_FACTOR * self.len());
        if let Some(numbered) = &mut self.numbered {
            if let Some(n) = numbered.number(id) {
                if let Some(&r) = numbered.refs.get(n).filter(|&&r| r != 0) {
                    return Ok(ContactRef(r - 1));
                }
                if n < limit {
                    if n >= numbered.refs.len() {
                        numbered.refs.resize(n + 1, 0);
                    }
                    let contact = self.push_text(id)?;
                    if let Some(numbered) = &mut self.numbered {
                        numbered.refs[n] = contact.0 + 1;
                    }
                    return Ok(contact);
                }
                self.stop_numbering();
            }
        }
        if self.slots.len() < 2 * (self.hashed + 1) {
            self.grow();
        }
        match self.find_slot(id) {
            (_, Some(found)) => Ok(found),
            (slot, None) => {
                let contact = self.push_text(id)?;
                self.slots[slot] = contact.0 + 1;
                self.hashed += 1;
                Ok(contact)
            }
        }
    }

    /// Checks and appends a new contact's text.
    fn push_text(&mut self, id: &str) -> Result<ContactRef, DomainError> {
        ContactId::validate(id)?;
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

    /// Moves the numbered ids into the hashed table, for good.
    fn stop_numbering(&mut self) {
        if let Some(numbered) = self.numbered.take() {
            self.hashed += numbered.refs.iter().filter(|&&r| r != 0).count();
            self.grow();
        }
    }

    /// Rebuilds the hashed table with room for twice its ids.
    fn grow(&mut self) {
        let size = (2 * (self.hashed + 1)).next_power_of_two().max(16);
        let mut slots = vec![0u32; size];
        let mask = size - 1;
        for (contact, name) in self.iter() {
            if self.numbered.as_ref().is_some_and(|n| n.number(name).is_some()) {
                continue;
            }
            let mut slot = slot_of(hash(name.as_bytes()), size);
            while slots[slot] != 0 {
                slot = (slot + 1) & mask;
            }
            slots[slot] = contact.0 + 1;
        }
        self.slots = slots;
    }

    /// Bytes of heap the table uses.
    pub fn heap_bytes(&self) -> usize {
        let refs = self.numbered.as_ref().map_or(0, |n| n.refs.capacity());
        self.text.capacity() + 4 * (self.ends.capacity() + self.slots.capacity() + refs)
    }

    /// Every contact in order of first sight.
    pub fn iter(&self) -> impl Iterator<Item = (ContactRef, &str)> + '_ {
        (0..self.len() as u32).map(|i| (ContactRef(i), self.name(ContactRef(i))))
    }
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
