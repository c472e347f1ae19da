//! cargo-fuzz harness for `plog_fuzz_checks::hash` (see that function for
//! the invariants it checks).
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| plog_fuzz_checks::hash(data));
