//! Models and decisions: the sequential test and its looks, the verdicts
//! of a run against its baseline, the bisect search, change points, a
//! measured history as data, zp beside its peers.
//!
//! May import `storage`, `vcs` and the crate root's kernel; never `measure`
//! or above.

pub mod changepoints;
pub mod decide;
pub mod observation;
pub mod peers;
pub mod search;
pub mod sequential;
pub mod series;
#[cfg(test)]
pub mod sim;
pub mod verdicts;
