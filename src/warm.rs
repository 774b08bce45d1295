//! Reading memory ahead of its use, a group at a time.
//!
//! A bulk import's reads miss the cache at random in a heap of nearly a gigabyte, and
//! each row's reads depend on one another. Reading what a group of rows (or appends)
//! will need before working on any of them puts the misses of the whole group in flight
//! together instead of one after another.
//!
//! Ids need it most: cloning or dropping one writes its count with a locked
//! instruction, and on x86 such a write to a line not in cache holds back every memory
//! access after it until the line arrives.

use crate::model::ids::ContactId;

/// Rows, memberships or appends read together before they are worked on: enough for
/// their waits to overlap, few enough that what was read is still in cache when used.
pub(crate) const WARM_GROUP: usize = 16;

/// Reads where each of `ids` keeps its count and text, so that cloning or dropping them
/// next waits for no memory.
pub(crate) fn warm_ids<'a>(ids: impl IntoIterator<Item = &'a ContactId>) {
    for id in ids {
        std::hint::black_box(id.as_str().len());
    }
}

/// Hands each of `items` to `each`, in order, a group at a time, reading the group's
/// contact ids (`id` of each) first; stops at the first error.
pub(crate) fn each_warmed<T, E>(
    items: Vec<T>,
    id: fn(&T) -> &ContactId,
    mut each: impl FnMut(T) -> Result<(), E>,
) -> Result<(), E> {
    let mut items = items.into_iter();
    while items.len() > 0 {
        warm_ids(items.as_slice().iter().take(WARM_GROUP).map(id));
        for item in items.by_ref().take(WARM_GROUP) {
            each(item)?;
        }
    }
    Ok(())
}
