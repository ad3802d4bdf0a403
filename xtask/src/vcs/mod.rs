//! The programs the workbench drives: git (git2), cargo, the origin checks
//! of a built binary, the workspace, planted histories, and zp's probe
//! (the typed client of `probe-protocol`).
//!
//! May import only the crate root's kernel (`host`, `process`, `Ctx`).

pub mod cargo;
pub mod git;
pub mod origin;
pub mod plant;
pub mod probe;
pub mod workspace;
