//! What is stored and cached: runs and baselines, builds outside the
//! checkout (key, slots, cache), the measurement cache, atomic files.
//!
//! May import `vcs` and the crate root's kernel.

pub mod atomic;
pub mod builds;
pub mod measurements;
pub mod store;
