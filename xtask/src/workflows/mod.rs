//! What several commands run whole: the bisect as a library function and
//! its report. Called by `bisect`, `corpus`, `demo` and `history --explain`.
//!
//! May import `render`, `cli`, `measure` and everything below; imported by
//! commands only.

pub mod bisect_report;
pub mod bisection;
