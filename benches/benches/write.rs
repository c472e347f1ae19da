//! Placeholder: the write benchmarks are being written (see BENCHMARKS.md).
#![allow(missing_docs)]
fn main() {}
