//! The zp performance workbench, run as `cargo xtask …` (the alias is in
//! `.cargo/config.toml`). It answers three questions about a change to zp:
//! is it slower (`bench`, `compare`), which commit made it slower, and why.
//!
//! Exit codes: 0 success; 1 a regression (`compare`); 2 bad usage (an
//! unknown benchmark, flag, name or revision); 3 could not compare (a
//! missing or corrupt run or baseline); 4 anything else that failed (a
//! build, a probe, the file system); 5 nothing to bisect (no regression
//! between the endpoints); 6 an endpoint of a bisect cannot be measured.

mod bench;
mod bisect;
mod budgets;
mod cargo;
mod compare;
mod demo;
mod doctor;
mod export;
mod flags;
mod flame;
mod git;
mod host;
mod profile;
mod report;
mod runs;
mod search;
mod stacks;
mod stats;
mod store;
mod verdicts;

use anyhow::Result;
use clap::Parser;
use indicatif::{ProgressBar, ProgressStyle};
use std::io::IsTerminal;
use std::path::PathBuf;
use std::process::ExitCode;

/// Everything a subcommand needs about the workspace.
pub struct Ctx {
    pub root: PathBuf,
    pub budgets: budgets::Budgets,
    pub store: store::Store,
    /// The cargo profile probes of the working tree are built in: `bench`
    /// (tests use `dev`, whose dependencies `cargo test` has built).
    pub probe_profile: String,
    /// Cargo's target directory, shared by every build the workbench makes.
    pub target_dir: PathBuf,
}

impl Ctx {
    /// The workspace at `root`: its budgets file and its run store.
    pub fn new(root: PathBuf, probe_profile: &str, target_dir: PathBuf) -> Result<Ctx> {
        Ok(Ctx {
            budgets: budgets::Budgets::load(&root.join("profiles/budgets.toml"))?,
            store: store::Store::new(&root.join("profiles")),
            probe_profile: probe_profile.to_string(),
            target_dir,
            root,
        })
    }
}

/// The workspace this xtask belongs to.
pub fn workspace_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("xtask sits in the workspace")
        .to_path_buf()
}

/// Declares an error that is a message and a kind: `main` maps the kind
/// to an exit code.
#[macro_export]
macro_rules! message_error {
    ($(#[$meta:meta])* $name:ident) => {
        $(#[$meta])*
        #[derive(Debug)]
        pub struct $name(pub String);

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(&self.0)
            }
        }

        impl std::error::Error for $name {}
    };
}

message_error!(
    /// Bad input from the user (exit code 2).
    Usage
);

fn main() -> ExitCode {
    let args = match flags::Xtask::try_parse() {
        Ok(a) => a,
        Err(e) => {
            let _ = e.print();
            return ExitCode::from(if e.use_stderr() { 2 } else { 0 });
        }
    };
    match run(args) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::from(exit_code(&e))
        }
    }
}

fn run(args: flags::Xtask) -> Result<()> {
    let root = workspace_root();
    let target_dir =
        std::env::var_os("CARGO_TARGET_DIR").map_or_else(|| root.join("target"), PathBuf::from);
    let ctx = Ctx::new(root, "bench", target_dir)?;
    match args.command {
        flags::Command::Bench(f) => f.run(&ctx),
        flags::Command::Bisect(f) => f.run(&ctx),
        flags::Command::Compare(f) => f.run(&ctx),
        flags::Command::Demo(f) => f.run(&ctx),
        flags::Command::Doctor(f) => f.run(&ctx),
        flags::Command::Export(f) => f.run(&ctx),
        flags::Command::Flame(f) => f.run(&ctx),
        flags::Command::Profile(f) => f.run(&ctx),
        flags::Command::Runs(f) => f.run(&ctx),
    }
}

fn exit_code(e: &anyhow::Error) -> u8 {
    for cause in e.chain() {
        if cause.is::<compare::Regressed>() {
            return 1;
        }
        if cause.is::<Usage>() {
            return 2;
        }
        if cause.is::<store::NotFound>()
            || cause.is::<store::Corrupt>()
            || cause.is::<compare::CannotCompare>()
        {
            return 3;
        }
        if cause.is::<bisect::NothingToBisect>() {
            return 5;
        }
        if cause.is::<search::EndpointUnusable>() {
            return 6;
        }
    }
    4
}

/// A progress bar on a terminal; plain phase lines in a CI log.
pub struct Progress {
    bar: Option<ProgressBar>,
    title: String,
}

impl Progress {
    pub fn new(len: u64, title: &str) -> Progress {
        let bar = std::io::stderr().is_terminal().then(|| {
            let b = ProgressBar::new(len);
            b.set_style(
                ProgressStyle::with_template(
                    "{prefix:>12.bold} [{bar:30}] {pos}/{len} {msg} ({elapsed}, ~{eta} left)",
                )
                .expect("a valid template")
                .progress_chars("=> "),
            );
            b.set_prefix(title.to_string());
            b
        });
        if bar.is_none() {
            eprintln!("{title} ({len} steps)");
        }
        Progress {
            bar,
            title: title.to_string(),
        }
    }

    pub fn phase(&self, msg: &str) {
        match &self.bar {
            Some(b) => b.set_message(msg.to_string()),
            None => eprintln!("  {}: {msg}", self.title),
        }
    }

    pub fn inc(&self) {
        if let Some(b) = &self.bar {
            b.inc(1);
        }
    }

    pub fn note(&self, msg: &str) {
        match &self.bar {
            Some(b) => b.println(msg),
            None => eprintln!("{msg}"),
        }
    }

    pub fn finish(&self) {
        if let Some(b) = &self.bar {
            b.finish_and_clear();
        }
    }
}

#[cfg(test)]
mod fixtures;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn error_kinds_map_to_distinct_exit_codes() {
        let code = |e: anyhow::Error| exit_code(&e.context("while doing something"));
        assert_eq!(code(compare::Regressed(2).into()), 1);
        assert_eq!(code(Usage("bad".into()).into()), 2);
        assert_eq!(code(store::NotFound("gone".into()).into()), 3);
        assert_eq!(code(store::Corrupt("bad json".into()).into()), 3);
        assert_eq!(
            code(compare::CannotCompare("nothing shared".into()).into()),
            3
        );
        assert_eq!(code(anyhow::anyhow!("cargo failed")), 4);
        assert_eq!(code(bisect::NothingToBisect("flat".into()).into()), 5);
        assert_eq!(code(search::EndpointUnusable("broken".into()).into()), 6);
    }
}
