//! [`IdIndex`]: the numbers an owner gave its ids, found by id, for the tables of a
//! million contacts that a bulk import builds.

use std::hash::BuildHasher;

use foldhash::fast::RandomState;
use hashbrown::HashTable;

use crate::id_shape::Shape;

/// Ids of the index's shape per page of [`PageState::Held`] numbers.
const PAGE: usize = 1024;
/// No id has this number in a page.
const NONE: u32 = u32::MAX;
/// The largest number an id may be given ([`NONE`] marks an empty place).
pub(crate) const MAX_NUMBER: u32 = NONE - 1;
/// The pages, and the list of them, may take this many bytes whatever the ids held…
/// (far less under test, so that the tests reach the budget's edge).
const PAGES_FLOOR_BYTES: usize = if cfg!(test) { 16 << 10 } else { 4 << 20 };
/// …and this many more per id held.
const PAGES_BYTES_PER_ID: usize = 64;

/// Numbers by id. The owner keeps the ids, by number.
///
/// Ids of the shape of the first id inserted (a prefix and a fixed number of digits,
/// `c0000042`, see [`Shape`]) are found by their number in pages of a direct table:
/// no hash, no text compared, one read. The pages are allocated as ids fall in them,
/// within a budget that grows with the ids held, so a few ids of large numbers cost
/// little; a page past the budget keeps its ids in the hash table.
///
/// Any other id is in a hash table of 16-byte entries, its hash beside its number, so
/// growing the table moves the entries without reading each id's text through its
/// pointer (a cache miss per id), and a caller that looks an id up more than once
/// computes its [`IdKey`] once.
#[derive(Clone, Debug, Default)]
pub(crate) struct IdIndex {
    hasher: RandomState,
    table: HashTable<(u64, u32)>,
    /// The shape of the first id inserted, if it has one.
    shape: Option<Shape>,
    /// The pages of numbers of ids of that shape, by page.
    pages: Vec<PageState>,
    /// Set when the list of pages could not grow within the budget: pages past its end
    /// are then [`PageState::Hashed`] rather than [`PageState::Absent`].
    pages_closed: bool,
    /// Pages allocated.
    held_pages: usize,
    /// Ids held, in pages and in the table.
    len: usize,
}

/// Where the ids of a page of numbers are.
#[derive(Clone, Debug, Default)]
enum PageState {
    /// Nowhere: no id of the page is held.
    #[default]
    Absent,
    /// In the page, by number ([`NONE`]: none).
    Held(Box<[u32]>),
    /// In the hash table: the page was past the budget when its first id came.
    Hashed,
}

/// How an id is found in an [`IdIndex`]: its number in the shape, or its hash.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum IdKey {
    /// An id of the index's shape, found by its number without a hash.
    Numbered(usize),
    /// Any other id, found by its hash.
    Hashed(u64),
}

impl IdIndex {
    /// The key [`find`](Self::find) takes for `id`.
    #[inline]
    pub(crate) fn key(&self, id: impl AsRef<[u8]>) -> IdKey {
        let id = id.as_ref();
        match self.shape.as_ref().and_then(|shape| shape.number(id)) {
            Some(n) if !matches!(self.page_state(n / PAGE), PageState::Hashed) => IdKey::Numbered(n),
            _ => IdKey::Hashed(self.hasher.hash_one(id)),
        }
    }

    /// The number of the id of key `key`. A [`IdKey::Hashed`] key is checked against
    /// the numbers stored with that hash by `is` (whether the owner's id at a number
    /// is the one sought).
    #[inline]
    pub(crate) fn find(&self, key: IdKey, is: impl Fn(u32) -> bool) -> Option<u32> {
        match key {
            IdKey::Numbered(n) => match self.page_state(n / PAGE) {
                PageState::Held(page) => page.get(n % PAGE).copied().filter(|&number| number != NONE),
                _ => None,
            },
            IdKey::Hashed(hash) => {
                self.table.find(hash, |&(stored, number)| stored == hash && is(number)).map(|&(_, n)| n)
            }
        }
    }

    /// Records `number` for `id`, which the index does not hold.
    pub(crate) fn insert(&mut self, id: &str, number: u32) {
        if self.len == 0 && self.pages.is_empty() && self.table.is_empty() {
            self.shape = Shape::of(id);
        }
        self.len += 1;
        let id = id.as_bytes();
        let numbered = self.shape.as_ref().and_then(|shape| shape.number(id));
        if let Some(n) = numbered {
            let (page, slot) = (n / PAGE, n % PAGE);
            if matches!(self.page_state(page), PageState::Absent) {
                self.open_page(page);
            }
            if let Some(PageState::Held(held)) = self.pages.get_mut(page) {
                if let Some(entry) = held.get_mut(slot) {
                    *entry = number;
                }
                return;
            }
        }
        let hash = self.hasher.hash_one(id);
        self.table.insert_unique(hash, (hash, number), |&(hash, _)| hash);
    }

    /// Forgets `number`, stored for `id`.
    pub(crate) fn remove(&mut self, id: &str, number: u32) {
        let removed = match self.key(id) {
            IdKey::Numbered(n) => match self.pages.get_mut(n / PAGE).and_then(|state| match state {
                PageState::Held(page) => page.get_mut(n % PAGE),
                _ => None,
            }) {
                Some(entry) if *entry == number => {
                    *entry = NONE;
                    true
                }
                _ => false,
            },
            IdKey::Hashed(hash) => match self.table.find_entry(hash, |&(h, n)| h == hash && n == number) {
                Ok(entry) => {
                    entry.remove();
                    true
                }
                Err(_) => false,
            },
        };
        if removed {
            self.len -= 1;
        }
    }

    /// The bits of a hash that choose its bucket: as many as the table has buckets (7
    /// of 8 usable). Only an order of lookups depends on it: were the table laid out
    /// otherwise, they would be slower, never wrong.
    pub(crate) fn bucket_mask(&self) -> u64 {
        (self.table.capacity() / 7 * 8)
            .checked_next_power_of_two()
            .map_or(u64::MAX, |buckets| buckets as u64 - 1)
    }

    fn page_state(&self, page: usize) -> &PageState {
        match self.pages.get(page) {
            Some(state) => state,
            None if self.pages_closed => &PageState::Hashed,
            None => &PageState::Absent,
        }
    }

    /// Allocates absent page `page` if the budget allows, else marks it hashed (or,
    /// when the list of pages cannot reach it, closes the list).
    fn open_page(&mut self, page: usize) {
        let budget = PAGES_FLOOR_BYTES.saturating_add(PAGES_BYTES_PER_ID.saturating_mul(self.len));
        let list_len = self.pages.len().max(page.saturating_add(1));
        let list_bytes = list_len.saturating_mul(size_of::<PageState>());
        if list_bytes > budget {
            self.pages_closed = true;
            return;
        }
        let pages_bytes = (self.held_pages + 1).saturating_mul(PAGE * size_of::<u32>());
        self.pages.resize_with(list_len, PageState::default);
        if let Some(state) = self.pages.get_mut(page) {
            *state = if list_bytes.saturating_add(pages_bytes) <= budget {
                self.held_pages += 1;
                PageState::Held(vec![NONE; PAGE].into_boxed_slice())
            } else {
                PageState::Hashed
            };
        }
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use proptest::prelude::*;

    use super::*;

    /// Looks `id` up among the owner's `ids` (by number).
    fn number_of(index: &IdIndex, ids: &[String], id: &str) -> Option<u32> {
        index.find(index.key(id), |n| ids.get(n as usize).is_some_and(|stored| stored == id))
    }

    #[test]
    fn finds_each_number_by_its_id_and_forgets_it() {
        for prefix in ["c", "x-"] {
            let ids: Vec<String> = (0..10_000).map(|n| format!("{prefix}{n}")).collect();
            let mut index = IdIndex::default();
            for (number, id) in ids.iter().enumerate() {
                index.insert(id, number as u32);
            }
            assert_eq!(number_of(&index, &ids, &format!("{prefix}0")), Some(0));
            assert_eq!(number_of(&index, &ids, &format!("{prefix}9999")), Some(9_999));
            assert_eq!(number_of(&index, &ids, &format!("{prefix}10000")), None);
            index.remove(&format!("{prefix}5"), 5);
            assert_eq!(number_of(&index, &ids, &format!("{prefix}5")), None);
            assert_eq!(number_of(&index, &ids, &format!("{prefix}6")), Some(6));
        }
    }

    #[test]
    fn a_number_whose_id_is_another_is_not_found_under_a_hash() {
        let ids: Vec<String> = ["ada", "bob"].map(str::to_owned).to_vec();
        let mut index = IdIndex::default();
        index.insert("ada", 0);
        index.insert("bob", 1);
        let IdKey::Hashed(hash) = index.key("bob") else { panic!("ids without digits are hashed") };
        assert_eq!(index.find(IdKey::Hashed(hash), |n| n == 0), None);
        assert_eq!(number_of(&index, &ids, "bob"), Some(1));
    }

    #[test]
    fn ids_of_the_shape_are_found_by_number() {
        let ids: Vec<String> = ["c0000042", "c0000043", "c00000044", "d0000045"].map(str::to_owned).to_vec();
        let mut index = IdIndex::default();
        for (number, id) in ids.iter().enumerate() {
            index.insert(id, number as u32);
        }
        assert_eq!(index.key("c0000043"), IdKey::Numbered(43));
        assert_eq!(index.key("c0000044"), IdKey::Numbered(44));
        assert!(matches!(index.key("c00000044"), IdKey::Hashed(_)), "another width: another shape");
        assert!(matches!(index.key("d0000045"), IdKey::Hashed(_)), "another prefix: another shape");
        for (number, id) in ids.iter().enumerate() {
            assert_eq!(number_of(&index, &ids, id), Some(number as u32), "{id}");
        }
        assert_eq!(number_of(&index, &ids, "c0000044"), None);
    }

    #[derive(Clone, Debug)]
    enum Op {
        Insert(String),
        Remove(String),
    }

    /// Ids of the first id's shape (mostly), of another width or prefix, and far
    /// apart, so that pages open, pass the budget and are hashed.
    fn id() -> impl Strategy<Value = String> {
        prop_oneof![
            6 => (0u32..5_000).prop_map(|n| format!("c{n:07}")),
            2 => (0u32..10_000_000).prop_map(|n| format!("c{n:07}")),
            1 => (0u32..100).prop_map(|n| format!("c{n}")),
            1 => (0u32..100).prop_map(|n| format!("d{n:07}")),
            1 => "[a-c]{1,3}",
        ]
    }

    fn op() -> impl Strategy<Value = Op> {
        prop_oneof![4 => id().prop_map(Op::Insert), 1 => id().prop_map(Op::Remove)]
    }

    proptest! {
        /// The index answers as a map from ids to numbers, whatever the shapes, the
        /// order and the budget: pages held, hashed and past a closed list all occur.
        #[test]
        fn answers_as_a_map(ops in prop::collection::vec(op(), 1..400)) {
            let mut index = IdIndex::default();
            let mut model: HashMap<String, u32> = HashMap::new();
            let mut ids: Vec<String> = Vec::new();
            for op in ops {
                match op {
                    Op::Insert(id) if !model.contains_key(&id) => {
                        let number = ids.len() as u32;
                        index.insert(&id, number);
                        model.insert(id.clone(), number);
                        ids.push(id);
                    }
                    Op::Insert(_) => {}
                    Op::Remove(id) => {
                        if let Some(number) = model.remove(&id) {
                            index.remove(&id, number);
                        }
                    }
                }
                prop_assert_eq!(index.len, model.len());
            }
            for id in ids.iter().chain(["c0000000", "c9999999", "zz"].map(str::to_owned).iter()) {
                prop_assert_eq!(number_of(&index, &ids, id), model.get(id).copied(), "{}", id);
            }
        }
    }
}
