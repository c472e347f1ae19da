//! plog-raft's integration tests: openraft's storage conformance suite,
//! crash and power-loss tests in child processes, and refused directories.

mod bad;
mod child;
mod crash;
mod encoding;
mod files;
mod inspect;
mod model;
mod power;
mod runtime;
mod small;
mod suite;
mod support;
mod tail;
