//! plog-raft's integration tests: openraft's storage conformance suites
//! (0.9 and 0.10), group commit under 0.10,
//! crash and power-loss tests in child processes, and refused directories.

mod bad;
mod child;
mod crash;
mod encoding;
mod files;
mod inspect;
mod model;
mod one_node010;
mod one_node09;
mod power;
mod runtime;
mod small;
mod suite;
mod suite010;
mod support;
mod tail;
