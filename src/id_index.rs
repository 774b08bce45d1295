//! [`IdIndex`]: the numbers an owner gave its ids, found by id, for the tables of a
//! million contacts that a bulk import builds.

use std::hash::BuildHasher;

use foldhash::fast::RandomState;
use hashbrown::HashTable;

/// Numbers by id. The owner keeps the ids, by number; each entry here is an id's hash
/// beside its number, in 16 bytes, so growing the table moves the entries without
/// reading each id's text through its pointer (a cache miss per id), and a caller
/// that looks an id up more than once hashes it once.
#[derive(Clone, Debug, Default)]
pub(crate) struct IdIndex {
    hasher: RandomState,
    table: HashTable<(u64, u32)>,
}

impl IdIndex {
    /// The hash [`find`](Self::find) and [`insert`](Self::insert) take for `id`.
    #[inline]
    pub(crate) fn hash(&self, id: &str) -> u64 {
        self.hasher.hash_one(id)
    }

    /// The number of the id hashed to `hash`: of the numbers stored with that hash,
    /// the one for which `is` (whether the owner's id at a number is the one sought)
    /// holds.
    #[inline]
    pub(crate) fn find(&self, hash: u64, is: impl Fn(u32) -> bool) -> Option<u32> {
        self.table.find(hash, |&(stored, number)| stored == hash && is(number)).map(|&(_, number)| number)
    }

    /// Records `number` for the id hashed to `hash`, which the index does not hold.
    pub(crate) fn insert(&mut self, hash: u64, number: u32) {
        self.table.insert_unique(hash, (hash, number), |&(hash, _)| hash);
    }

    /// Forgets `number`, stored for an id hashed to `hash`.
    pub(crate) fn remove(&mut self, hash: u64, number: u32) {
        if let Ok(entry) = self.table.find_entry(hash, |&(stored, n)| stored == hash && n == number) {
            entry.remove();
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
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_each_number_by_its_id_and_forgets_it() {
        let ids: Vec<String> = (0..10_000).map(|n| format!("c{n}")).collect();
        let mut index = IdIndex::default();
        for (number, id) in ids.iter().enumerate() {
            index.insert(index.hash(id), number as u32);
        }
        let number_of = |index: &IdIndex, id: &str| {
            index.find(index.hash(id), |n| ids.get(n as usize).is_some_and(|stored| stored == id))
        };
        assert_eq!(number_of(&index, "c0"), Some(0));
        assert_eq!(number_of(&index, "c9999"), Some(9_999));
        assert_eq!(number_of(&index, "c10000"), None);
        // A number whose id is another is not found, even under the sought id's hash.
        assert_eq!(index.find(index.hash("c5"), |n| n == 6), None);
        index.remove(index.hash("c5"), 5);
        assert_eq!(number_of(&index, "c5"), None);
        assert_eq!(number_of(&index, "c6"), Some(6));
        assert!(index.bucket_mask() >= 10_000);
    }
}
