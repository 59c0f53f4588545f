//! Shared parts of the BASOKA benchmarks (`bench-submit`, `bench-allocate`): unique valid
//! households from a counter, a small HTTP/1.1 keep-alive load generator over hyper, latency
//! statistics, and what the machine was doing (cores, CPU model, load, CPU time of a process).
//!
//! The benchmarks are plain binaries that print figures; nothing here runs under `cargo test`
//! except the quick checks at the bottom of each module.

pub mod households;
pub mod load;
pub mod stats;
pub mod sys;
