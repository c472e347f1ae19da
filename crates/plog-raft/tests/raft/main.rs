//! plog-raft's integration tests: openraft's storage conformance suite,
//! crash and power-loss tests in child processes, and refused directories.

mod child;
mod crash;
mod suite;
mod support;
