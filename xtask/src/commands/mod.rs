//! The commands, one module per subcommand: each parses nothing itself (its
//! options come from `cli::flags`), calls the layers below and renders.
//!
//! May import every layer below. Nothing imports a command but the
//! dispatcher in `lib.rs`, and no command imports another
//! (`xtask/tests/layers.rs` checks both).

pub mod bench;
pub mod bisect;
pub mod ci;
pub mod compare;
pub mod corpus;
pub mod demo;
pub mod doctor;
pub mod export;
pub mod flame;
pub mod history;
pub mod profile;
pub mod runs;
pub mod site;
