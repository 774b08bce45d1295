//! [`Shelf`]: the journey definitions an engine has seen, read without a lock.

use std::hash::BuildHasher;
use std::sync::{Arc, OnceLock};

use foldhash::fast::RandomState;

use crate::model::ids::JourneyId;
use crate::model::journey::Journey;

/// How many lists the journeys are spread over by the hash of their id: a lookup walks
/// one list, so a host with a thousand journeys still compares about four ids per move
/// (the buckets take 4 KiB per engine).
const BUCKETS: usize = 256;

/// Journey definitions, which are immutable once stored, kept for the engine's
/// lifetime. Every move looks its journey up here: a lookup takes no lock and touches
/// no reference count, so the move borrows the journey instead of sharing it (a
/// read-locked map and an `Arc` clone were four atomic updates per move). Each bucket
/// is a list that only grows, linked through `OnceLock`s.
#[derive(Debug)]
pub(super) struct Shelf {
    hasher: RandomState,
    buckets: [Slot; BUCKETS],
}

type Slot = OnceLock<Box<Node>>;

#[derive(Debug)]
struct Node {
    journey: Arc<Journey>,
    next: Slot,
}

impl Default for Shelf {
    fn default() -> Self {
        Shelf { hasher: RandomState::default(), buckets: std::array::from_fn(|_| OnceLock::new()) }
    }
}

impl Shelf {
    /// The journey with id `id`, if shelved.
    #[inline]
    pub(super) fn get(&self, id: &JourneyId) -> Option<&Arc<Journey>> {
        let mut slot = self.bucket(id);
        while let Some(node) = slot.get() {
            if node.journey.id() == id {
                return Some(&node.journey);
            }
            slot = &node.next;
        }
        None
    }

    /// Shelves `journey` unless a journey with its id is shelved, and returns the one
    /// shelved.
    pub(super) fn insert(&self, journey: Arc<Journey>) -> &Arc<Journey> {
        let mut slot = self.bucket(journey.id());
        loop {
            let node =
                slot.get_or_init(|| Box::new(Node { journey: Arc::clone(&journey), next: OnceLock::new() }));
            if node.journey.id() == journey.id() {
                return &node.journey;
            }
            slot = &node.next;
        }
    }

    #[inline]
    fn bucket(&self, id: &JourneyId) -> &Slot {
        &self.buckets[self.hasher.hash_one(id) as usize % BUCKETS]
    }
}

impl Drop for Shelf {
    /// Unlinks each list node by node: dropping the first node would otherwise drop
    /// the rest recursively, one stack frame per journey.
    fn drop(&mut self) {
        for bucket in &mut self.buckets {
            let mut next = bucket.take();
            while let Some(mut node) = next {
                next = node.next.take();
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::journey::{SequencePolicy, Stage};

    fn journey(id: &str) -> Arc<Journey> {
        let stages = [Stage::new("lead", "Lead").unwrap()];
        Arc::new(Journey::new(id, id, SequencePolicy::AnyOrder, stages).unwrap())
    }

    #[test]
    fn every_journey_shelved_is_found_and_the_first_of_an_id_is_kept() {
        let shelf = Shelf::default();
        // More journeys than buckets, so lists grow past their first node.
        let ids: Vec<String> = (0..1_000).map(|i| format!("journey-{i}")).collect();
        for id in &ids {
            let first = journey(id);
            assert!(Arc::ptr_eq(shelf.insert(Arc::clone(&first)), &first));
            assert!(Arc::ptr_eq(shelf.insert(journey(id)), &first), "{id} replaced");
        }
        for id in &ids {
            let found = shelf.get(&id.parse().unwrap()).map(|j| j.id().to_string());
            assert_eq!(found.as_deref(), Some(id.as_str()));
        }
        assert!(shelf.get(&"journey-1000".parse().unwrap()).is_none());
    }
}
