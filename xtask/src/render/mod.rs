//! Rendering: the bench report (terminal, Markdown, JSON), sparklines,
//! flamegraphs and hotspot tables, the peer report. The gate comment, the history table and
//! the site pages live beside their commands.
//!
//! May import `cli` (for output formats), `measure` and below; imported by
//! `workflows` and commands.

pub mod bmf;
pub mod flamegraph;
pub mod peers;
pub mod report;
pub mod sparkline;
