//! Feeds arbitrary bytes to the CSV importer in every mode: no panic, a consistent
//! report, and a repository whose histories replay.
#![no_main]

#[path = "../../tests/support/import_harness.rs"]
mod import_harness;

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    import_harness::check(data);
});
