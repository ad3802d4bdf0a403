//! The command line as data (`flags`): every subcommand's options as clap
//! structs, read by the dispatcher, the commands and the renderers.
//!
//! May import `model` (option value types) and below.

pub mod flags;
