//! The plog command (work in progress).
fn main() {}
