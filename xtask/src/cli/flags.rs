//! The command line, as data: every subcommand's flags and nothing else.
//! `main.rs` dispatches on [`Command`]; each subcommand module turns its
//! flags into typed options once.

use clap::{Parser, Subcommand, ValueEnum};
use std::path::PathBuf;

/// The zp performance workbench: is zp slower, which commit, and why.
#[derive(Debug, Parser)]
#[command(name = "cargo xtask", bin_name = "cargo xtask", version)]
pub struct Xtask {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    Bench(Bench),
    Bisect(Bisect),
    Ci(Ci),
    Compare(Compare),
    Corpus(Corpus),
    Demo(Demo),
    Doctor(Doctor),
    Export(Export),
    Flame(Flame),
    History(History),
    Profile(Profile),
    Report(Report),
    Runs(Runs),
}

/// Run the benchmarks, store the run, compare it with a baseline and report.
#[derive(Debug, clap::Args)]
pub struct Bench {
    /// Only benchmarks whose name contains this, or a category name; or
    /// `peers`: zp beside rustls, Noise and aws-lc's raw AEAD loops.
    pub filter: Option<String>,
    /// Also store this run as the named baseline (e.g. `main`).
    #[arg(long, value_name = "NAME")]
    pub save_baseline: Option<String>,
    /// Compare with this baseline (default: `main` if it exists, else the previous run).
    #[arg(long, value_name = "NAME")]
    pub baseline: Option<String>,
    /// Shorter rounds: about a minute for the whole suite, less certain verdicts.
    #[arg(long)]
    pub quick: bool,
    /// zp cargo features to build with, comma-separated (e.g. `aws-lc`, the
    /// aws-lc-rs crypto provider): compares builds as well as commits.
    #[arg(long, value_name = "FEATURES")]
    pub features: Option<String>,
    /// How the report is printed on stdout.
    #[arg(long, value_enum, default_value_t = Format::Text)]
    pub format: Format,
}

/// Find the commit that made a benchmark slower, and show why.
#[derive(Debug, clap::Args)]
pub struct Bisect {
    /// The benchmark, e.g. `encrypt_record_64k`.
    pub bench: String,
    /// A revision where it was fast (default: the commit of baseline `main`).
    #[arg(long, value_name = "REV")]
    pub good: Option<String>,
    /// A revision where it is slow.
    #[arg(long, value_name = "REV", default_value = "HEAD")]
    pub bad: String,
    /// What to measure: time, exact instruction counts (callgrind), or
    /// instructions when the regression shows in them, confirmed in time.
    #[arg(long, value_enum, default_value_t = MetricChoice::Auto)]
    pub metric: MetricChoice,
    /// Smallest slowdown that counts, in percent.
    #[arg(long, value_name = "PCT", default_value_t = 5.0)]
    pub threshold: f64,
    /// Parallel jobs for cargo's builds (at least 1).
    #[arg(long, short, value_name = "N", value_parser = clap::value_parser!(u32).range(1..))]
    pub jobs: Option<u32>,
    /// Measure again instead of using cached instruction counts, and build
    /// again commits cached as not building (built probes are reused).
    #[arg(long)]
    pub fresh: bool,
}

/// What the user asks a bisect to measure. A measurement itself is always
/// in one metric (`search::Metric`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum MetricChoice {
    Time,
    Instructions,
    Auto,
}

/// The CI gate: base and head built outside your checkout, measured in
/// interleaved rounds, decided on exact instruction counts with time as a
/// second opinion. Exits 1 on a regression, 3 when they cannot be compared.
#[derive(Debug, clap::Args)]
pub struct Ci {
    /// The revision to compare against (a pull request's base).
    #[arg(long, value_name = "REV")]
    pub base: String,
    /// The revision gated.
    #[arg(long, value_name = "REV", default_value = "HEAD")]
    pub head: String,
    /// Only benchmarks whose name contains this, or a category name.
    #[arg(long, value_name = "FILTER")]
    pub only: Option<String>,
    /// Where to write comment.md, gate.json and bmf.json (default:
    /// profiles/reports/ci-<time>/).
    #[arg(long, value_name = "DIR")]
    pub out: Option<PathBuf>,
    /// Paired time rounds per benchmark at most, on a quiet machine (twice
    /// as many while it is busy). Rounds are judged at 8, 12, 18, 27, …, so
    /// a budget between two looks stops at the lower one.
    #[arg(long, value_name = "N", default_value_t = 12, value_parser = clap::value_parser!(u32).range(8..=500))]
    pub rounds: u32,
    /// Parallel jobs for cargo's builds (at least 1).
    #[arg(long, short, value_name = "N", value_parser = clap::value_parser!(u32).range(1..))]
    pub jobs: Option<u32>,
}

/// Measure every relevant commit (instruction counts by default) and find
/// where each benchmark changed (E-divisive means); stored under
/// profiles/history/ for `cargo xtask report`.
#[derive(Debug, clap::Args)]
pub struct History {
    /// Benchmarks or categories (default: every benchmark).
    pub benches: Vec<String>,
    /// Start at this revision (measured too) instead of the root.
    #[arg(long, value_name = "REV", conflicts_with = "last")]
    pub since: Option<String>,
    /// Only the last N relevant commits.
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u32).range(2..))]
    pub last: Option<u32>,
    /// The newest revision measured.
    #[arg(long, value_name = "REV", default_value = "HEAD")]
    pub until: String,
    /// What to measure: exact instruction counts (callgrind), time, or both.
    /// Memory benchmarks are sizes whatever this says.
    #[arg(long, value_enum, default_value_t = HistoryMetric::Instructions)]
    pub metric: HistoryMetric,
    /// Measure only every N-th commit, from the K-th (e.g. 2/4), for
    /// another machine to measure the rest; combine with --merge.
    #[arg(long, value_name = "K/N", value_parser = crate::model::series::Shard::parse)]
    pub shard: Option<crate::model::series::Shard>,
    /// Combine the history files of shards instead of measuring.
    #[arg(long, value_name = "FILE", num_args = 1.., conflicts_with_all = ["benches", "since", "last", "shard"])]
    pub merge: Vec<PathBuf>,
    /// Also write the history to this file.
    #[arg(long, value_name = "FILE")]
    pub out: Option<PathBuf>,
    /// Bisect every slowdown found and diff the hotspots of every change.
    #[arg(long)]
    pub explain: bool,
    /// Measuring processes beside the build (default: one per core).
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u32).range(1..))]
    pub workers: Option<u32>,
    /// Parallel jobs for cargo's builds (at least 1).
    #[arg(long, short, value_name = "N", value_parser = clap::value_parser!(u32).range(1..))]
    pub jobs: Option<u32>,
    /// Measure again instead of using cached counts, and build again
    /// commits cached as not building.
    #[arg(long)]
    pub fresh: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum HistoryMetric {
    Instructions,
    Time,
    Both,
}

/// Write the static report site (profiles/site/): an index of every
/// benchmark, a page per benchmark and per stored bisect. Opens from disk.
#[derive(Debug, clap::Args)]
pub struct Report {
    /// Write the site here instead of profiles/site/.
    #[arg(long, value_name = "DIR")]
    pub out: Option<PathBuf>,
}

/// Compare two stored runs or baselines; exits 1 on a regression, 3 when they cannot be compared.
#[derive(Debug, clap::Args)]
pub struct Compare {
    /// The old side: a baseline name, a run id, `latest`, or a path to a run's JSON.
    pub old: String,
    /// The new side, as OLD.
    pub new: String,
    /// Also fail any benchmark whose time grew by more than this ratio (e.g. 1.25).
    #[arg(long, value_name = "RATIO")]
    pub threshold: Option<f64>,
    /// How the report is printed on stdout.
    #[arg(long, value_enum, default_value_t = Format::Text)]
    pub format: Format,
}

/// Print a stored run in Bencher Metric Format (BMF) JSON.
#[derive(Debug, clap::Args)]
pub struct Export {
    /// A baseline name, a run id, `latest`, or a path to a run's JSON.
    pub run: String,
    /// Write to this file instead of stdout.
    #[arg(long, short, value_name = "FILE")]
    pub output: Option<PathBuf>,
}

/// Sample a benchmark (or a category) with pprof and render a flamegraph.
#[derive(Debug, clap::Args)]
pub struct Flame {
    /// A benchmark, a category (`handshake`) or part of a name.
    pub target: String,
    /// Profile this revision instead of the working tree.
    #[arg(long, value_name = "REV")]
    pub rev: Option<String>,
    /// Also render a differential flamegraph from REV to the profiled code.
    #[arg(long, value_name = "REV")]
    pub diff: Option<String>,
    /// Seconds of sampling per benchmark (pprof samples at most ~250 Hz here).
    #[arg(long, value_name = "S", default_value_t = 5.0)]
    pub seconds: f64,
}

/// Explain a benchmark: hotspots, counters per iteration, allocations.
#[derive(Debug, clap::Args)]
pub struct Profile {
    /// A benchmark, a category or part of a name (default: all of them).
    pub target: Option<String>,
    /// Only allocations (dhat): per iteration, peak live, top sites; writes dhat-heap JSON.
    #[arg(long)]
    pub mem: bool,
    /// Only counters: perf-event where the kernel allows, callgrind's exact instructions otherwise.
    #[arg(long)]
    pub counters: bool,
    /// Profile this revision instead of the working tree.
    #[arg(long, value_name = "REV")]
    pub rev: Option<String>,
}

/// The whole workbench on a built-in example: a throwaway clone with a
/// planted slowdown, bisected and profiled. Your checkout is only read.
#[derive(Debug, clap::Args)]
pub struct Demo {}

/// Plants slowdowns of five kinds (arithmetic loop, extra copy,
/// allocation per call, system call per call, build setting) in a
/// throwaway clone, bisects each and checks that the bisect names the
/// planted commit and the top hotspot names the function it touched.
#[derive(Debug, clap::Args)]
pub struct Corpus {
    /// On a miniature zp (seconds per build) instead of zp itself.
    #[arg(long)]
    pub mini: bool,
    /// Only the kinds whose name contains this (`syscall`, `copy`, …).
    #[arg(long, value_name = "KIND")]
    pub only: Option<String>,
}

/// What this machine can measure, and how to fix what it cannot.
#[derive(Debug, clap::Args)]
pub struct Doctor {}

/// List the stored runs and baselines.
#[derive(Debug, clap::Args)]
pub struct Runs {}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Format {
    Text,
    Markdown,
    Json,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(args: &[&str]) -> Result<Xtask, clap::Error> {
        Xtask::try_parse_from(std::iter::once("cargo xtask").chain(args.iter().copied()))
    }

    #[test]
    fn bench_flags() {
        let Command::Bench(b) = parse(&[
            "bench",
            "encrypt_record",
            "--quick",
            "--save-baseline",
            "main",
            "--format",
            "markdown",
        ])
        .unwrap()
        .command
        else {
            panic!("not bench")
        };
        assert_eq!(b.filter.as_deref(), Some("encrypt_record"));
        assert!(b.quick);
        assert_eq!(b.save_baseline.as_deref(), Some("main"));
        assert_eq!(b.baseline, None);
        assert_eq!(b.format, Format::Markdown);
    }

    #[test]
    fn compare_flags() {
        let Command::Compare(c) = parse(&["compare", "main", "latest", "--threshold", "1.25"])
            .unwrap()
            .command
        else {
            panic!("not compare")
        };
        assert_eq!((c.old.as_str(), c.new.as_str()), ("main", "latest"));
        assert_eq!(c.threshold, Some(1.25));
        assert_eq!(c.format, Format::Text);
    }

    #[test]
    fn bisect_flags() {
        let Command::Bisect(b) = parse(&[
            "bisect",
            "encrypt_record_64k",
            "--good",
            "v1",
            "--metric",
            "instructions",
            "-j",
            "2",
        ])
        .unwrap()
        .command
        else {
            panic!("not bisect")
        };
        assert_eq!(
            (b.bench.as_str(), b.good.as_deref(), b.bad.as_str()),
            ("encrypt_record_64k", Some("v1"), "HEAD")
        );
        assert_eq!(
            (b.metric, b.threshold, b.jobs, b.fresh),
            (MetricChoice::Instructions, 5.0, Some(2), false)
        );
        assert!(parse(&["bisect"]).is_err());
        assert!(parse(&["bisect", "x", "--metric", "cycles"]).is_err());
        // Zero jobs is refused before anything runs (cargo would fail later).
        let err = parse(&["bisect", "x", "-j", "0"]).unwrap_err().to_string();
        assert!(err.contains("0 is not in 1.."), "{err}");
    }

    #[test]
    fn flame_and_profile_flags() {
        let Command::Flame(f) = parse(&["flame", "handshake", "--diff", "HEAD~3"])
            .unwrap()
            .command
        else {
            panic!()
        };
        assert_eq!(
            (f.target.as_str(), f.diff.as_deref(), f.rev, f.seconds),
            ("handshake", Some("HEAD~3"), None, 5.0)
        );
        let Command::Profile(p) = parse(&["profile", "--mem"]).unwrap().command else {
            panic!()
        };
        assert!(p.mem && !p.counters && p.target.is_none());
        assert!(matches!(
            parse(&["doctor"]).unwrap().command,
            Command::Doctor(_)
        ));
        assert!(parse(&["flame"]).is_err());
    }

    #[test]
    fn bad_usage_is_rejected() {
        assert!(parse(&["compare", "main"]).is_err());
        assert!(parse(&["bench", "--format", "yaml"]).is_err());
        assert!(parse(&["frobnicate"]).is_err());
    }
}
