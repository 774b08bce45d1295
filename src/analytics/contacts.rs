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
/// Names live in one text buffer; lookup is an open-addressing table of `u32` slots,
/// so a million contacts cost about 12 bytes each beside their text.
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
    /// 0 is empty, else the contact's index + 1.
    slots: Vec<u32>,
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
    h ^ (h >> 29)
}

impl ContactTable {
    /// A table sized for about `contacts` contacts.
    pub fn with_capacity(contacts: usize) -> Self {
        let mut table =
            ContactTable { text: String::new(), ends: Vec::with_capacity(contacts), slots: Vec::new() };
        table.slots = vec![0; (contacts.max(8) * 2).next_power_of_two()];
        table
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
        if self.slots.is_empty() {
            return None;
        }
        let mask = self.slots.len() - 1;
        let mut slot = hash(id.as_bytes()) as usize & mask;
        loop {
            match self.slots[slot] {
                0 => return None,
                n if self.name(ContactRef(n - 1)) == id => return Some(ContactRef(n - 1)),
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
        if self.slots.len() < 2 * (self.len() + 1) {
            self.grow();
        }
        let mask = self.slots.len() - 1;
        let mut slot = hash(id.as_bytes()) as usize & mask;
        loop {
            match self.slots[slot] {
                0 => break,
                n if self.name(ContactRef(n - 1)) == id => return Ok(ContactRef(n - 1)),
                _ => slot = (slot + 1) & mask,
            }
        }
        ContactId::validate(id)?;
        let too_many = |reason| DomainError::InvalidValue { field: "contacts", value: id.to_owned(), reason };
        let index = u32::try_from(self.len())
            .ok()
            .filter(|&n| n < u32::MAX - 1)
            .ok_or_else(|| too_many("more than 2^32 - 2 contacts"))?;
        self.text.push_str(id);
        let end = u32::try_from(self.text.len()).map_err(|_| too_many("contact ids exceed 4 GiB of text"))?;
        self.ends.push(end);
        self.slots[slot] = index + 1;
        Ok(ContactRef(index))
    }

    fn grow(&mut self) {
        let size = (self.slots.len() * 2).max(16);
        let mut slots = vec![0u32; size];
        let mask = size - 1;
        for i in 0..self.len() {
            let mut slot = hash(self.name(ContactRef(i as u32)).as_bytes()) as usize & mask;
            while slots[slot] != 0 {
                slot = (slot + 1) & mask;
            }
            slots[slot] = i as u32 + 1;
        }
        self.slots = slots;
    }

    /// Bytes of heap the table uses.
    pub fn heap_bytes(&self) -> usize {
        self.text.capacity() + 4 * (self.ends.capacity() + self.slots.capacity())
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
