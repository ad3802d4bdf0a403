//! The zp performance workbench, run as `cargo xtask …` (the alias is in
//! `.cargo/config.toml`). It answers three questions about a change to zp:
//! is it slower (`bench`, `compare`), which commit made it slower, and why.
//! `main.rs` only calls [`main`]; the library form lets the integration
//! tests build miniature repositories and run the binary on them.
//!
//! Exit codes: 0 success; 1 a regression (`compare`); 2 bad usage (an
//! unknown benchmark, flag, name or revision, or a binary built for another
//! checkout); 3 could not compare (a missing or corrupt run or baseline);
//! 4 anything else that failed (a build, a probe, the file system); 5
//! nothing to bisect (the endpoints show no regression: not slower, with
//! the interval to show it); 6 an endpoint of a bisect cannot be measured;
//! 7 cannot decide yet (time could neither show a slowdown nor rule one
//! out on this machine: the message gives the interval, the load and what
//! would decide it); 130 interrupted (Ctrl-C).

// The layers, top to bottom. A layer imports only the layers below it and
// the kernel; no command imports another; nothing imports a command but
// `run` below. `cargo test -p xtask --test layers` checks all three.
pub mod cli;
pub mod commands;
pub mod measure;
pub mod model;
pub mod render;
pub mod storage;
pub mod vcs;
pub mod workflows;

// The kernel, which every layer may import: the budgets, the machine
// (`host`), child processes, summaries and folded stacks, number
// formatting, the deterministic RNG, the miniature zp the tests and the
// corpus build, and the tidy rules (test only).
pub mod budgets;
pub mod host;
pub mod mini;
pub mod process;
pub mod rng;
pub mod stacks;
pub mod stats;
pub mod tidy;
pub mod units;

use anyhow::Result;
use clap::Parser;
use cli::flags;
use commands::history;
use indicatif::{ProgressBar, ProgressStyle};
use model::search;
use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::OnceLock;
use storage::measurements;
use storage::store;
use vcs::workspace;
use workflows::bisection;

/// Everything a subcommand needs about the workspace.
pub struct Ctx {
    /// The workspace acted on, found at run time (`workspace.rs`).
    pub root: PathBuf,
    pub budgets: budgets::Budgets,
    pub store: store::Store,
    /// The cargo profile probes are built in: `bench` (tests use `dev`,
    /// whose dependencies `cargo test` has built).
    pub probe_profile: String,
    /// Cargo's target directory for `root`, asked of cargo when first needed.
    target_dir: OnceLock<PathBuf>,
}

impl Ctx {
    /// The workspace at `root`: its budgets file and its run store. The
    /// target directory is cargo's, unless `target_dir` names one.
    pub fn new(root: PathBuf, probe_profile: &str, target_dir: Option<PathBuf>) -> Result<Ctx> {
        let cell = OnceLock::new();
        if let Some(t) = target_dir {
            let _ = cell.set(t);
        }
        Ok(Ctx {
            budgets: budgets::Budgets::load(&root.join("profiles/budgets.toml"))?,
            store: store::Store::new(&root.join("profiles")),
            probe_profile: probe_profile.to_string(),
            target_dir: cell,
            root,
        })
    }

    /// The target directory in force for builds of this workspace (shared
    /// by every build the workbench makes, so dependencies build once).
    pub fn target_dir(&self) -> Result<&Path> {
        if let Some(t) = self.target_dir.get() {
            return Ok(t);
        }
        let t = workspace::target_dir(&self.root)?;
        Ok(self.target_dir.get_or_init(|| t))
    }
}

/// The workspace this xtask's source belongs to: for tests and fixtures,
/// never for deciding which checkout a command acts on.
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

message_error!(
    /// Time could not decide on this machine, and nothing exact answered
    /// instead (exit code 7).
    CannotDecide
);

message_error!(
    /// The two runs could not be compared (exit code 3).
    CannotCompare
);

/// A regression was found (exit code 1); the report is already printed.
#[derive(Debug)]
pub struct Regressed(pub usize);

impl std::fmt::Display for Regressed {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} benchmark{} regressed",
            self.0,
            if self.0 == 1 { "" } else { "s" }
        )
    }
}

impl std::error::Error for Regressed {}

/// The binary's whole life: parse, find the workspace, dispatch, map the
/// error to an exit code.
pub fn main() -> ExitCode {
    if std::env::var_os(measurements::PRINT_FEATURES).is_some() {
        println!("{}", host::detected_features().join(","));
        return ExitCode::SUCCESS;
    }
    let args = match flags::Xtask::try_parse() {
        Ok(a) => a,
        Err(e) => {
            let _ = e.print();
            return ExitCode::from(if e.use_stderr() { 2 } else { 0 });
        }
    };
    if let Err(e) = process::on_interrupt() {
        eprintln!("warning: {e:#}; Ctrl-C will not clean up");
    }
    match run(args) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            if e.is::<process::Interrupted>() {
                eprintln!("interrupted: nothing half-written was kept");
            } else {
                eprintln!("error: {e:#}");
            }
            ExitCode::from(exit_code_of(&e))
        }
    }
}

fn run(args: flags::Xtask) -> Result<()> {
    let cwd = std::env::current_dir()
        .map_err(|e| Usage(format!("cannot read the current directory: {e}")))?;
    let root = workspace::discover(&cwd)?;
    // `cargo run` tells the binary which package it ran; a binary built
    // from another checkout (a shared target directory) is refused.
    let run_for = std::env::var_os("CARGO_MANIFEST_DIR").map(PathBuf::from);
    workspace::check_binary(
        &root,
        Path::new(env!("CARGO_MANIFEST_DIR")),
        run_for.as_deref(),
    )?;
    // The cargo profile probes and bench targets are built in: `bench`
    // unless ZP_WORKBENCH_PROFILE names another (the tests use `dev`).
    let profile = std::env::var("ZP_WORKBENCH_PROFILE").unwrap_or_else(|_| "bench".into());
    let ctx = Ctx::new(root, &profile, None)?;
    match args.command {
        flags::Command::Bench(f) => f.run(&ctx),
        flags::Command::Bisect(f) => f.run(&ctx),
        flags::Command::Ci(f) => f.run(&ctx),
        flags::Command::Compare(f) => f.run(&ctx),
        flags::Command::Corpus(f) => f.run(&ctx),
        flags::Command::Demo(f) => f.run(&ctx),
        flags::Command::Doctor(f) => f.run(&ctx),
        flags::Command::Export(f) => f.run(&ctx),
        flags::Command::Flame(f) => f.run(&ctx),
        flags::Command::History(f) => f.run(&ctx),
        flags::Command::Profile(f) => f.run(&ctx),
        flags::Command::Report(f) => f.run(&ctx),
        flags::Command::Runs(f) => f.run(&ctx),
    }
}

/// The exit code for an error: the first cause with a kind decides.
pub fn exit_code_of(e: &anyhow::Error) -> u8 {
    for cause in e.chain() {
        if cause.is::<process::Interrupted>() {
            return 130;
        }
        if cause.is::<Regressed>() {
            return 1;
        }
        if cause.is::<Usage>() {
            return 2;
        }
        if cause.is::<store::NotFound>()
            || cause.is::<store::Corrupt>()
            || cause.is::<CannotCompare>()
            || cause.is::<history::CannotMerge>()
        {
            return 3;
        }
        if cause.is::<bisection::NothingToBisect>() {
            return 5;
        }
        if cause.is::<search::EndpointUnusable>() {
            return 6;
        }
        if cause.is::<CannotDecide>() {
            return 7;
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
    use crate::storage::builds;

    #[test]
    fn error_kinds_map_to_distinct_exit_codes() {
        let code = |e: anyhow::Error| exit_code_of(&e.context("while doing something"));
        assert_eq!(code(Regressed(2).into()), 1);
        assert_eq!(code(Usage("bad".into()).into()), 2);
        assert_eq!(code(store::NotFound("gone".into()).into()), 3);
        assert_eq!(code(store::Corrupt("bad json".into()).into()), 3);
        assert_eq!(code(CannotCompare("nothing shared".into()).into()), 3);
        assert_eq!(code(anyhow::anyhow!("cargo failed")), 4);
        assert_eq!(code(bisection::NothingToBisect("flat".into()).into()), 5);
        assert_eq!(code(search::EndpointUnusable("broken".into()).into()), 6);
        assert_eq!(code(CannotDecide("busy".into()).into()), 7);
        assert_eq!(code(process::Interrupted("^C".into()).into()), 130);
        assert_eq!(code(builds::BuildFailed("oom".into()).into()), 4);
    }
}
