//! `cargo xtask history`: every relevant commit measured, and where each
//! benchmark changed.
//!
//! **What is measured.** The first-parent commits up to `--until` (HEAD)
//! that touch a path that can change a benchmark (the bisect's rule,
//! `git::relevant`), from `--since REV` or the last `--last N` of them or
//! the root. Each is built through `builds.rs` (the bisect's cache, so a
//! bisect afterwards builds nothing) and measured through its probe:
//! instruction counts under callgrind (exact, cached like a bisect's, by
//! probe fingerprint, valgrind version and CPU features), memory
//! benchmarks' sizes, and with `--metric time` or `both` the time.
//!
//! **How fast.** Building is the slow part, so commits are built one after
//! another on one thread while worker threads measure the commits already
//! built: instruction counts do not depend on what else the machine does,
//! so they can run beside a build. Time does, so it is measured after every
//! build is done, alone, in rounds that alternate direction over the
//! commits (a drift of the machine then does not look like a step).
//!
//! **More than one machine.** `--shard K/N` measures every N-th commit
//! starting at the K-th; `--merge FILES…` combines shard files, refusing
//! files whose counts are not comparable (another compiler or build input,
//! another valgrind, CPU features that select other code paths). Time is
//! kept only when every shard ran on the same machine.
//!
//! **Change points** are `changepoints.rs`'s E-divisive means on each
//! series. Each comes with the commands that explain it; `--explain` runs
//! them (a bisect for a slowdown, a hotspot diff for an improvement).

use crate::budgets::{Budget, Category};
use crate::builds::{self, BuildKey, Builder, Built};
use crate::changepoints::{self, ChangePoint, Settings};
use crate::flags::{self, HistoryMetric, MetricChoice};
use crate::git::{self, CommitInfo};
use crate::measure::hotspots::{self, Exactly, Side};
use crate::measurements::{self, Key};
use crate::observation::{Clock, Load, Observation};
use crate::probe::{self, Probe};
use crate::search::Finding;
use crate::stats::median;
use crate::verdicts::{fmt_count, fmt_ns, short};
use crate::{Ctx, Progress, atomic, process};
use anyhow::{Context, Result, bail};
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Mutex, mpsc};
use std::time::Instant;

/// Identifies the file format.
pub const SCHEMA: &str = "zp-workbench-history/1";
/// Passes over the commits when timing, alternating direction.
const TIME_ROUNDS: usize = 3;

crate::message_error!(
    /// Shard files that cannot be combined (exit code 3).
    CannotMerge
);

/// What a series holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Kind {
    /// Instructions per iteration under callgrind: exact.
    Instructions,
    /// Median nanoseconds per iteration: noisy.
    Time,
    /// A memory benchmark's size in bytes: exact.
    Bytes,
}

impl Kind {
    pub fn name(self) -> &'static str {
        match self {
            Kind::Instructions => "instructions",
            Kind::Time => "time",
            Kind::Bytes => "bytes",
        }
    }

    pub fn unit(self) -> &'static str {
        match self {
            Kind::Instructions => "instr/iter",
            Kind::Time => "ns/iter",
            Kind::Bytes => "bytes",
        }
    }

    pub fn exact(self) -> bool {
        self != Kind::Time
    }

    /// A value of this kind for people.
    pub fn format(self, v: f64) -> String {
        match self {
            Kind::Time => fmt_ns(v),
            Kind::Instructions => fmt_count(v),
            Kind::Bytes => format!("{} B", fmt_count(v)),
        }
    }

    fn settings(self) -> Settings {
        if self.exact() {
            Settings::EXACT
        } else {
            Settings::TIME
        }
    }
}

/// `--shard K/N`: the commits at positions K-1, K-1+N, K-1+2N, …
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub struct Shard {
    /// 1-based.
    pub index: usize,
    pub count: usize,
}

impl Shard {
    /// Parses `K/N` (1 ≤ K ≤ N).
    pub fn parse(s: &str) -> std::result::Result<Shard, String> {
        let (k, n) = s
            .split_once('/')
            .ok_or_else(|| format!("`{s}` is not K/N (e.g. 2/4)"))?;
        let parse = |x: &str| {
            x.trim()
                .parse::<usize>()
                .map_err(|_| format!("`{s}` is not K/N (e.g. 2/4)"))
        };
        let (index, count) = (parse(k)?, parse(n)?);
        if count == 0 || index == 0 || index > count {
            return Err(format!("`{s}`: K must be between 1 and N"));
        }
        Ok(Shard { index, count })
    }

    pub fn owns(self, position: usize) -> bool {
        position % self.count == self.index - 1
    }
}

impl std::fmt::Display for Shard {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{}", self.index, self.count)
    }
}

/// One commit of the history.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Point {
    #[serde(flatten)]
    pub commit: CommitInfo,
    /// Its probe was built and measured (by this file's shards).
    pub measured: bool,
    /// Why it could not be: it does not build, it has no probe.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub skipped: Option<String>,
    /// The probe's fingerprint (identical probes measure identically).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub probe: Option<String>,
}

impl Point {
    /// Left to another shard: neither measured nor skipped.
    pub fn elsewhere(&self) -> bool {
        !self.measured && self.skipped.is_none()
    }
}

/// One benchmark's series, one value (or none) per commit.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Bench {
    pub category: Category,
    pub series: BTreeMap<Kind, Vec<Option<f64>>>,
}

/// A change point with what explains it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Change {
    pub bench: String,
    pub kind: Kind,
    /// Index into `commits` of the first commit after the change.
    pub at: usize,
    pub commit: String,
    /// The measured commit before it (the bisect's good end).
    pub previous: String,
    #[serde(flatten)]
    pub point: ChangePoint,
    /// The commands that explain it.
    pub commands: Vec<String>,
    /// Every commit in the step changed only the benchmark harness
    /// (`zp/benches/`, `probe-protocol/`): the measurement moved, not zp.
    #[serde(default)]
    pub harness_only: bool,
    /// What `--explain` found.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub explained: Option<Explained>,
    /// Why time cannot decide this change yet, when it cannot.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub undecided: Option<String>,
}

impl Change {
    pub fn improvement(&self) -> bool {
        self.point.is_improvement()
    }

    /// Whether the change is a decided slowdown or speed-up.
    pub fn decided(&self) -> bool {
        self.undecided.is_none()
    }
}

/// The culprit and hotspot diff of a change (`--explain`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Explained {
    /// The commit the bisect named (for an improvement: the change's).
    pub culprit: Option<String>,
    /// The bisect's headline, or the improvement's measured change.
    pub summary: String,
    /// Functions whose time changed most, previous → culprit.
    pub hotspots: Vec<crate::stacks::Change>,
    pub notes: Vec<String>,
}

/// What the history cost.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Cost {
    /// Probes built (the others came from the build cache).
    pub builds: usize,
    pub measurements: usize,
    /// Values that came from the measurement cache.
    pub cached: usize,
    pub wall_s: f64,
}

/// A measured history (one shard's, or all of it).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct History {
    pub schema: String,
    pub created: String,
    /// The revision it was taken up to.
    pub head: String,
    /// The probes' build inputs besides the commit.
    pub build_key: BuildKey,
    pub valgrind: Option<String>,
    /// The host's CPU features.
    pub cpu_features: Vec<String>,
    /// The CPU features a probe sees under valgrind: what instruction
    /// counts depend on (`measurements::features_under_valgrind`).
    pub counted_features: Vec<String>,
    /// The machine's fingerprint (time is comparable only on one).
    pub machine: String,
    /// What was measured besides sizes.
    pub kinds: Vec<Kind>,
    /// The shards this file holds; empty when it was measured whole.
    pub shards: Vec<Shard>,
    /// Commits left out as touching nothing relevant.
    pub irrelevant: usize,
    pub commits: Vec<Point>,
    pub benches: BTreeMap<String, Bench>,
    pub changes: Vec<Change>,
    pub notes: Vec<String>,
    pub cost: Cost,
    /// How busy the machine was while time was measured.
    #[serde(default)]
    pub time_load: Option<Load>,
}

impl History {
    /// Every commit is measured or skipped (no shard is missing).
    pub fn complete(&self) -> bool {
        !self.commits.iter().any(Point::elsewhere)
    }

    /// What the types cannot say.
    fn validate(&self) -> std::result::Result<(), String> {
        let n = self.commits.len();
        for (name, b) in &self.benches {
            for (kind, values) in &b.series {
                if values.len() != n {
                    return Err(format!(
                        "`{name}`'s {} series has {} values for {n} commits",
                        kind.name(),
                        values.len()
                    ));
                }
                if values.iter().flatten().any(|v| !v.is_finite() || *v <= 0.0) {
                    return Err(format!(
                        "`{name}`'s {} series holds a value that is not a positive number",
                        kind.name()
                    ));
                }
            }
        }
        if let Some(c) = self.changes.iter().find(|c| c.at >= n) {
            return Err(format!(
                "a change point of `{}` lies past the last commit",
                c.bench
            ));
        }
        Ok(())
    }

    /// Finds the change points of every series again.
    pub fn detect_changes(&mut self) {
        let mut changes = Vec::new();
        for (name, b) in &self.benches {
            for (kind, values) in &b.series {
                let present: Vec<usize> =
                    (0..values.len()).filter(|i| values[*i].is_some()).collect();
                let xs: Vec<f64> = present
                    .iter()
                    .map(|i| values[*i].expect("present"))
                    .collect();
                for cp in changepoints::detect(&xs, kind.settings()) {
                    let at = present[cp.index];
                    let previous = present[cp.index - 1];
                    // A noisy series may place a step one point off: the
                    // bisect then searches one point either side.
                    let (good, bad) = if kind.exact() {
                        (previous, at)
                    } else {
                        (
                            present[cp.index.saturating_sub(2)],
                            present[(cp.index + 1).min(present.len() - 1)],
                        )
                    };
                    let commands = commands(
                        name,
                        *kind,
                        &self.commits[good].commit.id,
                        &self.commits[bad].commit.id,
                        &self.commits[previous].commit.id,
                        &self.commits[at].commit.id,
                        cp.is_improvement(),
                    );
                    let harness_only = self.commits[previous + 1..=at]
                        .iter()
                        .all(|p| p.commit.relevant_files.iter().all(|f| git::harness(f)));
                    let undecided = undecided(*kind, &cp, self.time_load.as_ref());
                    changes.push(Change {
                        bench: name.clone(),
                        kind: *kind,
                        at,
                        commit: self.commits[at].commit.id.clone(),
                        previous: self.commits[previous].commit.id.clone(),
                        point: cp,
                        commands,
                        harness_only,
                        explained: None,
                        undecided,
                    });
                }
            }
        }
        changes.sort_by(|a, b| (a.at, &a.bench, a.kind).cmp(&(b.at, &b.bench, b.kind)));
        self.changes = changes;
    }

    /// The series of `bench` in `kind`, if measured.
    pub fn series(&self, bench: &str, kind: Kind) -> Option<&[Option<f64>]> {
        self.benches
            .get(bench)
            .and_then(|b| b.series.get(&kind))
            .map(Vec::as_slice)
    }
}

/// Why a time change point cannot be decided from the history's rounds:
/// its interval includes no change, or the machine was busy while timing.
/// E-divisive's permutation test and the interval assume rounds whose noise
/// is exchangeable along the series; a busy machine drifts, and a drift is
/// a change of its own (simulated: 10.6 % of flat 20-commit histories on
/// the busy machine showed a decided change point, against α = 5 %). A
/// bisect decides such a change in paired rounds (`--explain`).
fn undecided(kind: Kind, cp: &ChangePoint, load: Option<&Load>) -> Option<String> {
    if kind.exact() {
        return None;
    }
    if !cp.decided() {
        return Some(
            "the series changed here (the permutation test), but the interval of its size includes no change".into(),
        );
    }
    load.filter(|l| l.busy()).map(|l| {
        format!(
            "the machine was busy while timing ({}): a drifting machine makes steps of its own",
            l.describe()
        )
    })
}

/// The commands that explain a change.
fn commands(
    bench: &str,
    kind: Kind,
    good: &str,
    bad: &str,
    previous: &str,
    at: &str,
    improvement: bool,
) -> Vec<String> {
    if kind == Kind::Bytes {
        return vec![format!("git show --stat {}", short(at))];
    }
    let mut c = Vec::new();
    if !improvement {
        c.push(format!(
            "cargo xtask bisect {bench} --good {} --bad {} --metric {}",
            short(good),
            short(bad),
            kind.name()
        ));
    }
    c.push(format!(
        "cargo xtask flame {bench} --rev {} --diff {}",
        short(at),
        short(previous)
    ));
    c
}

/// `s` cut to `n` characters, with an ellipsis when cut.
fn clip(s: &str, n: usize) -> String {
    if s.chars().count() <= n {
        s.to_string()
    } else {
        s.chars().take(n - 1).chain(['…']).collect()
    }
}

/// Reads a history file, strictly.
pub fn load(path: &Path) -> Result<History> {
    let h: History = crate::store::read_typed(path, SCHEMA, "history")?;
    h.validate().map_err(|why| {
        crate::store::Corrupt(format!("{} is a damaged history: {why}", path.display()))
    })?;
    Ok(h)
}

/// The newest complete history stored under `profiles/history/` (a whole
/// one or a merge), with its path; files that do not load are skipped
/// with the reason.
pub fn latest(ctx: &Ctx) -> (Option<(PathBuf, History)>, Vec<String>) {
    let mut files = atomic::json_files(&ctx.store.generated("history"), "");
    files.sort_by_key(|p| std::fs::metadata(p).and_then(|m| m.modified()).ok());
    let mut skipped = Vec::new();
    for f in files.into_iter().rev() {
        match load(&f) {
            Ok(h) if h.complete() => return (Some((f, h)), skipped),
            Ok(_) => {}
            Err(e) => skipped.push(format!("{e:#}")),
        }
    }
    (None, skipped)
}

impl flags::History {
    pub fn run(&self, ctx: &Ctx) -> Result<()> {
        let mut history = if self.merge.is_empty() {
            self.measure(ctx)?
        } else {
            merge(ctx, &self.merge)?
        };
        history.detect_changes();
        if self.explain {
            explain(ctx, &mut history, self.jobs)?;
        }
        let path = save(ctx, &history, self.out.as_deref())?;
        print!("{}", render(&history));
        eprintln!("stored: {}", path.display());
        Ok(())
    }

    fn kinds(&self) -> Vec<Kind> {
        match self.metric {
            HistoryMetric::Instructions => vec![Kind::Instructions],
            HistoryMetric::Time => vec![Kind::Time],
            HistoryMetric::Both => vec![Kind::Instructions, Kind::Time],
        }
    }

    fn measure(&self, ctx: &Ctx) -> Result<History> {
        let started = Instant::now();
        let benches = select(ctx, &self.benches)?;
        let kinds = self.kinds();
        let valgrind = measurements::valgrind_version();
        if kinds.contains(&Kind::Instructions) && valgrind.is_none() {
            bail!(crate::Usage(
                "instruction counts need valgrind, which is not installed: run scripts/install-tools.sh, or pass --metric time".into()
            ));
        }
        let repo = git::open(&ctx.root)?;
        let head = git::resolve(&repo, &self.until)?;
        let since = self
            .since
            .as_deref()
            .map(|s| git::resolve(&repo, s))
            .transpose()?;
        let (commits, irrelevant, notes) =
            git::history(&repo, head, since, self.last.map(|n| n as usize))?;
        let mine: Vec<usize> = (0..commits.len())
            .filter(|i| self.shard.is_none_or(|s| s.owns(*i)))
            .collect();
        eprintln!(
            "history of {} benchmark{} over {} commits from {} to {}{} ({irrelevant} without changes to zp, the manifests or the toolchain left out)",
            benches.len(),
            if benches.len() == 1 { "" } else { "s" },
            commits.len(),
            short(&commits[0].id),
            short(&commits[commits.len() - 1].id),
            match self.shard {
                Some(s) => format!(", shard {s}: {} of them", mine.len()),
                None => String::new(),
            },
        );
        let machine = crate::host::Machine::detect();
        let workers = self.workers.map_or_else(
            || std::thread::available_parallelism().map_or(2, |n| n.get()),
            |w| w as usize,
        );
        let opts = builds::Options::probe(ctx, self.jobs, self.fresh);
        let plan = Plan {
            commits: &commits,
            mine: &mine,
            benches: &benches,
            instructions: kinds.contains(&Kind::Instructions),
            valgrind: valgrind.clone().unwrap_or_default(),
            cpu_features: machine.features.join(","),
            fresh: self.fresh,
            workers,
        };
        let mut out = History {
            schema: SCHEMA.into(),
            created: crate::host::utc_now().1,
            head: head.to_string(),
            build_key: BuildKey::of(BTreeMap::new()),
            counted_features: match &valgrind {
                Some(_) if kinds.contains(&Kind::Instructions) => {
                    measurements::features_under_valgrind()?
                }
                _ => Vec::new(),
            },
            valgrind,
            cpu_features: machine.features.clone(),
            machine: machine.fingerprint.clone(),
            kinds: kinds.clone(),
            shards: self.shard.into_iter().collect(),
            irrelevant,
            commits: commits
                .iter()
                .map(|c| Point {
                    commit: c.clone(),
                    measured: false,
                    skipped: None,
                    probe: None,
                })
                .collect(),
            benches: benches
                .iter()
                .map(|b| {
                    let mut series = BTreeMap::new();
                    if b.category == Category::Memory {
                        series.insert(Kind::Bytes, vec![None; commits.len()]);
                    } else {
                        for k in &kinds {
                            series.insert(*k, vec![None; commits.len()]);
                        }
                    }
                    (
                        b.name.clone(),
                        Bench {
                            category: b.category,
                            series,
                        },
                    )
                })
                .collect(),
            changes: Vec::new(),
            notes,
            cost: Cost::default(),
            time_load: None,
        };
        let probes = pipeline(ctx, &plan, opts, &mut out)?;
        if kinds.contains(&Kind::Time) {
            let mut probes: BTreeMap<usize, (Box<dyn Probe>, BTreeSet<String>)> = probes
                .into_iter()
                .map(|(at, r)| {
                    let p = probe::Process::new(&r.exe, &ctx.root, short(&plan.commits[at].id));
                    (at, (Box::new(p) as Box<dyn Probe>, r.listed))
                })
                .collect();
            time_pass(&mut probes, plan.benches, &mut out)?;
        }
        out.cost.wall_s = started.elapsed().as_secs_f64();
        Ok(out)
    }
}

/// The benchmarks named (names or categories), in the budgets' order; all
/// of them when none is.
fn select(ctx: &Ctx, names: &[String]) -> Result<Vec<Budget>> {
    if names.is_empty() {
        return Ok(ctx.budgets.benchmarks.clone());
    }
    let mut picked = BTreeSet::new();
    for n in names {
        for b in ctx.budgets.select(Some(n))? {
            picked.insert(b.name.clone());
        }
    }
    Ok(ctx
        .budgets
        .benchmarks
        .iter()
        .filter(|b| picked.contains(&b.name))
        .cloned()
        .collect())
}

/// What the measuring threads share.
struct Plan<'a> {
    commits: &'a [CommitInfo],
    /// Positions in `commits` this process measures.
    mine: &'a [usize],
    benches: &'a [Budget],
    instructions: bool,
    valgrind: String,
    cpu_features: String,
    fresh: bool,
    workers: usize,
}

/// A built probe: its executable, fingerprint and benchmarks.
struct Ready {
    exe: PathBuf,
    fingerprint: String,
    listed: BTreeSet<String>,
}

/// One exact measurement for a worker.
struct Task {
    at: usize,
    exe: PathBuf,
    fingerprint: String,
    bench: String,
    kind: Kind,
}

enum Event {
    Building(usize),
    Ready(usize, Ready),
    Skipped(usize, String),
    Value {
        at: usize,
        bench: String,
        kind: Kind,
        value: f64,
        cached: bool,
    },
    Failed {
        at: usize,
        bench: String,
        why: String,
    },
    BuilderDone {
        key: BuildKey,
        builds: usize,
        repaired: Vec<String>,
    },
    Fatal(anyhow::Error),
}

/// Builds the commits one after another while `plan.workers` threads
/// take their exact measurements; fills `out` and returns the probes.
fn pipeline(
    ctx: &Ctx,
    plan: &Plan,
    opts: builds::Options,
    out: &mut History,
) -> Result<BTreeMap<usize, Ready>> {
    let exact_per_commit = plan
        .benches
        .iter()
        .filter(|b| b.category == Category::Memory || plan.instructions)
        .count();
    let progress = Progress::new(
        (plan.mine.len() * exact_per_commit.max(1)) as u64,
        "history",
    );
    let stop = AtomicBool::new(false);
    let (events, inbox) = mpsc::channel::<Event>();
    let (tasks, queue) = mpsc::channel::<Task>();
    let queue = Mutex::new(queue);
    let mut probes = BTreeMap::new();
    let mut fatal: Option<anyhow::Error> = None;
    let measurements_dir = ctx.store.cache().join("measurements");
    std::thread::scope(|s| {
        // The builder: one commit at a time, in order.
        let ev = events.clone();
        let stop_ref = &stop;
        s.spawn(move || {
            let result = (|| -> Result<()> {
                let repo = git::open(&ctx.root)?;
                let mut builder = Builder::new(ctx, &repo, opts)?;
                for &at in plan.mine {
                    if stop_ref.load(Ordering::Relaxed) {
                        break;
                    }
                    process::check()?;
                    let _ = ev.send(Event::Building(at));
                    let id = &plan.commits[at].id;
                    let binary = match builder.probe(id)? {
                        Built::Broken(why) => {
                            let _ = ev.send(Event::Skipped(at, why));
                            continue;
                        }
                        Built::Ready(b) => b,
                    };
                    let mut p = probe::Process::new(&binary.exe, &ctx.root, short(id));
                    let listed: BTreeSet<String> = match p.list() {
                        Ok(l) => l.into_iter().map(|l| l.name).collect(),
                        Err(e) => {
                            process::check()?;
                            let _ = ev.send(Event::Skipped(at, format!("{e:#}")));
                            continue;
                        }
                    };
                    for b in plan.benches {
                        let kind = if b.category == Category::Memory {
                            Kind::Bytes
                        } else if plan.instructions {
                            Kind::Instructions
                        } else {
                            continue;
                        };
                        if listed.contains(&b.name) {
                            let _ = tasks.send(Task {
                                at,
                                exe: binary.exe.clone(),
                                fingerprint: binary.fingerprint.clone(),
                                bench: b.name.clone(),
                                kind,
                            });
                        }
                    }
                    let _ = ev.send(Event::Ready(
                        at,
                        Ready {
                            exe: binary.exe,
                            fingerprint: binary.fingerprint,
                            listed,
                        },
                    ));
                }
                let _ = ev.send(Event::BuilderDone {
                    key: builder.key.clone(),
                    builds: builder.builds,
                    repaired: std::mem::take(&mut builder.repaired),
                });
                Ok(())
            })();
            drop(tasks);
            if let Err(e) = result {
                let _ = ev.send(Event::Fatal(e));
            }
        });
        // The measurers.
        for _ in 0..plan.workers.max(1) {
            let ev = events.clone();
            let queue = &queue;
            let stop_ref = &stop;
            let dir = measurements_dir.clone();
            s.spawn(move || {
                let mut cache = measurements::Cache::new(&dir);
                loop {
                    let task = queue.lock().expect("the queue's lock").recv();
                    let Ok(t) = task else { break };
                    if stop_ref.load(Ordering::Relaxed) {
                        continue;
                    }
                    let key = match t.kind {
                        Kind::Bytes => Key::bytes(&t.fingerprint, &t.bench),
                        _ => Key::instructions(
                            &t.fingerprint,
                            &t.bench,
                            &plan.valgrind,
                            &plan.cpu_features,
                        ),
                    };
                    let mut p =
                        probe::Process::new(&t.exe, &ctx.root, short(&plan.commits[t.at].id));
                    let event = match cache.exact(&key, &mut p, plan.fresh) {
                        Ok((value, cached)) => Event::Value {
                            at: t.at,
                            bench: t.bench,
                            kind: t.kind,
                            value,
                            cached,
                        },
                        Err(e) if process::check().is_err() => Event::Fatal(e),
                        Err(e) => Event::Failed {
                            at: t.at,
                            bench: t.bench,
                            why: format!("{e:#}"),
                        },
                    };
                    let _ = ev.send(event);
                }
                if !cache.repaired.is_empty() {
                    let _ = ev.send(Event::Failed {
                        at: usize::MAX,
                        bench: String::new(),
                        why: cache.repaired.join("; "),
                    });
                }
            });
        }
        drop(events);
        for event in inbox {
            match event {
                Event::Building(at) => progress.phase(&format!(
                    "building {} {}",
                    short(&plan.commits[at].id),
                    clip(&plan.commits[at].subject, 50)
                )),
                Event::Ready(at, r) => {
                    out.commits[at].measured = true;
                    out.commits[at].probe = Some(r.fingerprint.clone());
                    probes.insert(at, r);
                }
                Event::Skipped(at, why) => {
                    let why = why.lines().next().unwrap_or("").to_string();
                    progress.note(&format!(
                        "skipped {} {}: {why}",
                        short(&plan.commits[at].id),
                        clip(&plan.commits[at].subject, 50)
                    ));
                    out.commits[at].skipped = Some(why);
                    for _ in 0..exact_per_commit {
                        progress.inc();
                    }
                }
                Event::Value {
                    at,
                    bench,
                    kind,
                    value,
                    cached,
                } => {
                    if let Some(s) = out
                        .benches
                        .get_mut(&bench)
                        .and_then(|b| b.series.get_mut(&kind))
                    {
                        s[at] = Some(value);
                    }
                    if cached {
                        out.cost.cached += 1;
                    } else {
                        out.cost.measurements += 1;
                    }
                    progress.inc();
                }
                Event::Failed { at, bench, why } => {
                    let note = if at == usize::MAX {
                        format!("damaged cached measurements removed: {why}")
                    } else {
                        progress.inc();
                        format!(
                            "{bench} at {}: not measured: {why}",
                            short(&plan.commits[at].id)
                        )
                    };
                    progress.note(&note);
                    out.notes.push(note);
                }
                Event::BuilderDone {
                    key,
                    builds,
                    repaired,
                } => {
                    out.build_key = key;
                    out.cost.builds = builds;
                    out.notes.extend(
                        repaired
                            .into_iter()
                            .map(|r| format!("damaged build cache entry: {r}")),
                    );
                }
                Event::Fatal(e) => {
                    stop.store(true, Ordering::Relaxed);
                    if fatal.is_none() {
                        fatal = Some(e);
                    }
                }
            }
        }
    });
    progress.finish();
    if let Some(e) = fatal {
        return Err(e);
    }
    // Benchmarks a commit's probe lacks stay empty there (they did not
    // exist yet); nothing else is missing silently.
    Ok(probes)
}

/// Time, alone on the machine: rounds over the commits in alternating
/// direction (a drift of the machine then does not look like a step), each
/// an observation of the measurement layer; a commit's value is the median
/// of its rounds, and the load over all of them is kept with the history.
fn time_pass(
    probes: &mut BTreeMap<usize, (Box<dyn Probe>, BTreeSet<String>)>,
    benches: &[Budget],
    out: &mut History,
) -> Result<()> {
    let timed: Vec<&Budget> = benches
        .iter()
        .filter(|b| b.category != Category::Memory)
        .collect();
    let order: Vec<usize> = probes.keys().copied().collect();
    let progress = Progress::new((TIME_ROUNDS * order.len()) as u64, "timing");
    let mut taken: BTreeMap<(usize, String), Vec<Observation>> = BTreeMap::new();
    for round in 0..TIME_ROUNDS {
        let pass: Vec<usize> = if round.is_multiple_of(2) {
            order.clone()
        } else {
            order.iter().rev().copied().collect()
        };
        for at in pass {
            let (p, listed) = probes.get_mut(&at).expect("a probe per commit");
            let origin = p.origin().to_string();
            progress.phase(&format!("round {} of {TIME_ROUNDS}: {origin}", round + 1));
            for b in &timed {
                if !listed.contains(&b.name) {
                    continue;
                }
                match crate::measure::time::observe(p.as_mut(), &b.name) {
                    Ok(o) => {
                        out.cost.measurements += 1;
                        taken.entry((at, b.name.clone())).or_default().push(o);
                    }
                    Err(e) => {
                        process::check()?;
                        let note = format!("{} at {origin}: not timed: {e:#}", b.name);
                        progress.note(&note);
                        out.notes.push(note);
                    }
                }
            }
            progress.inc();
        }
    }
    progress.finish();
    let all: Vec<Observation> = taken.values().flatten().copied().collect();
    out.time_load = Load::of(&all);
    // One clock for the whole series, so that steps are not clock changes.
    let clock = Clock::of(&all);
    for ((at, bench), obs) in taken {
        if let Some(s) = out
            .benches
            .get_mut(&bench)
            .and_then(|b| b.series.get_mut(&Kind::Time))
        {
            let values: Vec<f64> = obs.iter().map(|o| o.value(clock)).collect();
            s[at] = Some(median(&values));
        }
    }
    Ok(())
}

/// Combines shard files into one history.
pub fn merge(ctx: &Ctx, files: &[PathBuf]) -> Result<History> {
    let _ = ctx;
    let started = Instant::now();
    let mut parts = Vec::new();
    for f in files {
        parts.push((f.clone(), load(f)?));
    }
    let (first_path, first) = parts[0].clone();
    let mut out = first.clone();
    out.shards.clear();
    out.notes.clear();
    out.changes.clear();
    out.cost = Cost::default();
    let name = |p: &Path| p.display().to_string();
    let mut walls = Vec::new();
    let mut time_dropped = false;
    for (path, h) in &parts {
        let ids = |h: &History| -> Vec<String> {
            h.commits.iter().map(|p| p.commit.id.clone()).collect()
        };
        if ids(h) != ids(&first) {
            bail!(CannotMerge(format!(
                "{} and {} cover different histories (up to {} and {}, {} and {} commits): run every shard with the same --since/--last and --until",
                name(&first_path),
                name(path),
                short(&first.head),
                short(&h.head),
                first.commits.len(),
                h.commits.len()
            )));
        }
        if h.build_key != first.build_key {
            let differ: Vec<&str> = h
                .build_key
                .inputs
                .keys()
                .chain(first.build_key.inputs.keys())
                .filter(|k| h.build_key.inputs.get(*k) != first.build_key.inputs.get(*k))
                .map(String::as_str)
                .collect::<BTreeSet<_>>()
                .into_iter()
                .collect();
            bail!(CannotMerge(format!(
                "{} was built differently from {} ({}): its instruction counts are not comparable; build every shard with the same toolchain and settings",
                name(path),
                name(&first_path),
                if differ.is_empty() {
                    "another build key".to_string()
                } else {
                    format!("differs in {}", differ.join(", "))
                }
            )));
        }
        let counts = h.kinds.contains(&Kind::Instructions);
        if counts && h.valgrind != first.valgrind {
            bail!(CannotMerge(format!(
                "{} counted with {} and {} with {}: instruction counts differ between valgrind versions",
                name(&first_path),
                first.valgrind.as_deref().unwrap_or("no valgrind"),
                name(path),
                h.valgrind.as_deref().unwrap_or("no valgrind")
            )));
        }
        if counts && h.counted_features != first.counted_features {
            let set =
                |h: &History| -> BTreeSet<String> { h.counted_features.iter().cloned().collect() };
            let (a, b) = (set(&first), set(h));
            let only = |x: &BTreeSet<String>, y: &BTreeSet<String>| {
                x.difference(y).cloned().collect::<Vec<_>>().join(",")
            };
            bail!(CannotMerge(format!(
                "{} counted on a CPU that valgrind shows with other features than {} (only the first: {}; only the second: {}): the crypto crates pick other code paths, so counts differ",
                name(&first_path),
                name(path),
                only(&a, &b),
                only(&b, &a)
            )));
        }
        if h.kinds != first.kinds {
            bail!(CannotMerge(format!(
                "{} measured {:?} and {} {:?}: run every shard with the same --metric",
                name(&first_path),
                first.kinds,
                name(path),
                h.kinds
            )));
        }
        if h.benches.keys().ne(first.benches.keys()) {
            bail!(CannotMerge(format!(
                "{} and {} measured different benchmarks: run every shard with the same BENCH arguments",
                name(&first_path),
                name(path)
            )));
        }
        if h.machine != first.machine && h.kinds.contains(&Kind::Time) {
            time_dropped = true;
        }
        out.shards.extend(h.shards.iter().copied());
        out.cost.builds += h.cost.builds;
        out.cost.measurements += h.cost.measurements;
        out.cost.cached += h.cost.cached;
        walls.push(h.cost.wall_s);
        out.notes.extend(h.notes.iter().cloned());
    }
    out.shards.sort();
    let unique: BTreeSet<Shard> = out.shards.iter().copied().collect();
    if unique.len() != out.shards.len() {
        bail!(CannotMerge("the same shard was given twice".into()));
    }
    // Each commit from the shard that measured it.
    for (i, point) in out.commits.iter_mut().enumerate() {
        let measured: Vec<&History> = parts
            .iter()
            .map(|(_, h)| h)
            .filter(|h| h.commits[i].measured)
            .collect();
        let skipped = parts.iter().find_map(|(_, h)| h.commits[i].skipped.clone());
        point.measured = !measured.is_empty();
        point.skipped = if point.measured { None } else { skipped };
        point.probe = measured.first().and_then(|h| h.commits[i].probe.clone());
        for (bench, b) in out.benches.iter_mut() {
            for (kind, values) in b.series.iter_mut() {
                let seen: Vec<f64> = measured
                    .iter()
                    .filter_map(|h| h.series(bench, *kind).and_then(|s| s[i]))
                    .collect();
                if kind.exact() && seen.windows(2).any(|w| w[0] != w[1]) {
                    bail!(CannotMerge(format!(
                        "two shards measured {bench} at {} and disagree ({} and {}): they are not comparable",
                        short(&point.commit.id),
                        seen[0],
                        seen[1]
                    )));
                }
                values[i] = seen.first().copied();
            }
        }
    }
    if time_dropped {
        for b in out.benches.values_mut() {
            b.series.remove(&Kind::Time);
        }
        out.kinds.retain(|k| *k != Kind::Time);
        out.notes.push(
            "time series dropped: the shards ran on different machines, whose times are not comparable".into(),
        );
    }
    let missing: Vec<String> = (1..=first.shards.first().map_or(1, |s| s.count))
        .filter(|k| !out.shards.iter().any(|s| s.index == *k))
        .map(|k| format!("{k}/{}", first.shards.first().map_or(1, |s| s.count)))
        .collect();
    if !missing.is_empty() {
        out.notes.push(format!(
            "shards {} are missing: their commits are not measured",
            missing.join(", ")
        ));
    }
    out.created = crate::host::utc_now().1;
    out.cost.wall_s = walls.iter().copied().fold(0.0, f64::max) + started.elapsed().as_secs_f64();
    Ok(out)
}

/// Runs the commands of every change (`--explain`): a bisect for a
/// slowdown, a hotspot diff for an improvement or a size change's commit.
fn explain(ctx: &Ctx, h: &mut History, jobs: Option<u32>) -> Result<()> {
    let n = h.changes.len();
    for (k, c) in h.changes.iter_mut().enumerate() {
        if c.kind == Kind::Bytes {
            continue;
        }
        eprintln!(
            "explaining change {} of {n}: {} {} {:+.1}% at {}",
            k + 1,
            c.bench,
            c.kind.name(),
            (c.point.ratio - 1.0) * 100.0,
            short(&c.commit)
        );
        let result = if c.improvement() {
            explain_improvement(ctx, c)
        } else {
            explain_slowdown(ctx, h.commits.as_slice(), c, jobs)
        };
        match result {
            Ok(e) => c.explained = Some(e),
            Err(e) => {
                process::check()?;
                c.explained = Some(Explained {
                    culprit: None,
                    summary: format!("could not explain: {e:#}"),
                    hotspots: Vec::new(),
                    notes: Vec::new(),
                });
            }
        }
    }
    Ok(())
}

fn explain_slowdown(
    ctx: &Ctx,
    commits: &[Point],
    c: &Change,
    jobs: Option<u32>,
) -> Result<Explained> {
    let change = (c.point.ratio - 1.0) * 100.0;
    // The bisect halves the threshold for counts: ask for less than the
    // change so that it is found.
    let threshold = (change * 0.6).clamp(0.5, 5.0);
    let at = c.at;
    let (good, bad) = match c.kind {
        Kind::Instructions => (c.previous.clone(), c.commit.clone()),
        _ => {
            let measured: Vec<usize> = (0..commits.len())
                .filter(|i| commits[*i].measured)
                .collect();
            let pos = measured.iter().position(|i| *i == at).unwrap_or(0);
            (
                commits[measured[pos.saturating_sub(2)]].commit.id.clone(),
                commits[measured[(pos + 1).min(measured.len() - 1)]]
                    .commit
                    .id
                    .clone(),
            )
        }
    };
    let report = flags::Bisect {
        bench: c.bench.clone(),
        good: Some(good),
        bad,
        metric: match c.kind {
            Kind::Instructions => MetricChoice::Instructions,
            _ => MetricChoice::Time,
        },
        threshold,
        jobs,
        fresh: false,
    }
    .execute(ctx)?;
    let culprit = match &report.answer.outcome.finding {
        Finding::Culprit { step, .. } => Some(report.commits[step.culprit].id.clone()),
        _ => None,
    };
    Ok(Explained {
        culprit,
        summary: report.headline(),
        hotspots: report.hotspots.clone(),
        notes: report.hotspot_notes.clone(),
    })
}

fn explain_improvement(ctx: &Ctx, c: &Change) -> Result<Explained> {
    let mut before = builds::probe_for(ctx, Some(&c.previous))?;
    let mut after = builds::probe_for(ctx, Some(&c.commit))?;
    let ids = [before.fingerprint()?, after.fingerprint()?];
    let mut exactly = Exactly::new(&ctx.store.cache().join("measurements"));
    let time_change = (c.kind == Kind::Time).then_some(c.point.ratio - 1.0);
    let [b, a] = ids;
    let d = hotspots::explain(
        exactly.as_mut(),
        Side {
            probe: &mut before,
            id: b,
        },
        Side {
            probe: &mut after,
            id: a,
        },
        &c.bench,
        time_change,
        5,
    )?;
    Ok(Explained {
        culprit: Some(c.commit.clone()),
        summary: format!(
            "{} got faster at {}: {:+.1}% {} (hotspots from {})",
            c.bench,
            short(&c.commit),
            (c.point.ratio - 1.0) * 100.0,
            c.kind.name(),
            d.instrument.describe()
        ),
        hotspots: d.changes,
        notes: d.notes,
    })
}

/// Stores the history under `profiles/history/` (and at `out`).
fn save(ctx: &Ctx, h: &History, out: Option<&Path>) -> Result<PathBuf> {
    let json = serde_json::to_vec_pretty(h)?;
    let dir = ctx.store.generated("history");
    let mut stem = format!("history-{}", crate::host::utc_now().0);
    if let [s] = h.shards.as_slice()
        && !h.complete()
    {
        let _ = write!(stem, "-shard-{}-of-{}", s.index, s.count);
    }
    let stem = atomic::write_unique(&dir, &stem, "json", |_| json.clone())?;
    let path = dir.join(format!("{stem}.json"));
    if let Some(o) = out {
        atomic::write(o, &json).with_context(|| format!("cannot write {}", o.display()))?;
        return Ok(o.to_path_buf());
    }
    Ok(path)
}

/// The history for people: a row per series, then every change point
/// with its commands (and what `--explain` found).
pub fn render(h: &History) -> String {
    let mut out = String::new();
    let n = h.commits.len();
    let measured = h.commits.iter().filter(|p| p.measured).count();
    let _ = writeln!(
        out,
        "zp history: {} benchmarks over {n} commits, {} to {}{}",
        h.benches.len(),
        short(&h.commits[0].commit.id),
        short(&h.commits[n - 1].commit.id),
        if h.shards.is_empty() {
            String::new()
        } else {
            format!(
                " (shard{} {})",
                if h.shards.len() == 1 { "" } else { "s" },
                h.shards
                    .iter()
                    .map(Shard::to_string)
                    .collect::<Vec<_>>()
                    .join(", ")
            )
        }
    );
    let _ = writeln!(
        out,
        "measured {measured} commits; {} left to other shards; {} commits without relevant changes left out",
        h.commits.iter().filter(|p| p.elsewhere()).count(),
        h.irrelevant
    );
    for p in h.commits.iter().filter(|p| p.skipped.is_some()) {
        let _ = writeln!(
            out,
            "  skipped {} {}: {}",
            short(&p.commit.id),
            clip(&p.commit.subject, 60),
            p.skipped.as_deref().unwrap_or("")
        );
    }
    let _ = writeln!(
        out,
        "cost: {} probes built, {} measurements, {} values from the cache, {:.0} s",
        h.cost.builds, h.cost.measurements, h.cost.cached, h.cost.wall_s
    );
    for note in &h.notes {
        let _ = writeln!(out, "note: {note}");
    }
    if let Some(l) = &h.time_load {
        let _ = writeln!(
            out,
            "time measured with {}; {}",
            l.clock.name(),
            l.describe()
        );
    }
    out.push('\n');
    let mut rows: Vec<[String; 6]> = Vec::new();
    for (name, b) in &h.benches {
        for (kind, values) in &b.series {
            let present: Vec<f64> = values.iter().flatten().copied().collect();
            let (first, last) = match (present.first(), present.last()) {
                (Some(f), Some(l)) => (*f, *l),
                _ => {
                    rows.push([
                        name.clone(),
                        kind.unit().into(),
                        "-".into(),
                        "-".into(),
                        "-".into(),
                        "not measured".into(),
                    ]);
                    continue;
                }
            };
            let n_changes = h
                .changes
                .iter()
                .filter(|c| c.bench == *name && c.kind == *kind)
                .count();
            rows.push([
                name.clone(),
                kind.unit().into(),
                kind.format(first),
                kind.format(last),
                format!("{:+.1}%", (last / first - 1.0) * 100.0),
                format!(
                    "{}  {}",
                    crate::sparkline::render(values, 60, if kind.exact() { 0.02 } else { 0.10 }),
                    match n_changes {
                        0 => String::new(),
                        1 => "1 change".into(),
                        k => format!("{k} changes"),
                    }
                ),
            ]);
        }
    }
    out.push_str(&crate::report::table(
        &[
            "benchmark",
            "unit",
            "first",
            "last",
            "change",
            "history (oldest → newest)",
        ],
        &rows,
        false,
    ));
    out.push('\n');
    if h.changes.is_empty() {
        let _ = writeln!(out, "no change points");
        return out;
    }
    let _ = writeln!(out, "change points ({}):", h.changes.len());
    for c in &h.changes {
        let p = &h.commits[c.at].commit;
        let _ = writeln!(
            out,
            "  {} {} {} {:+.1}%{} ({} → {}) at {} {} ({}, commit {} of {n}){}",
            if !c.decided() {
                "? cannot decide yet"
            } else if c.improvement() {
                "▼ faster"
            } else {
                "▲ slower"
            },
            c.bench,
            c.kind.name(),
            (c.point.ratio - 1.0) * 100.0,
            if c.kind.exact() {
                String::new()
            } else {
                format!(
                    " [{:+.1}%, {:+.1}%]",
                    (c.point.low - 1.0) * 100.0,
                    (c.point.high - 1.0) * 100.0
                )
            },
            c.kind.format(c.point.before),
            c.kind.format(c.point.after),
            short(&c.commit),
            clip(&p.subject, 60),
            &p.date[..p.date.len().min(10)],
            c.at + 1,
            if c.kind.exact() {
                String::new()
            } else {
                format!(", p = {:.3}", c.point.p)
            }
        );
        if let Some(why) = &c.undecided {
            let _ = writeln!(
                out,
                "      cannot decide yet: {why}; the bisect below decides it in paired rounds"
            );
        }
        if c.harness_only {
            let _ = writeln!(
                out,
                "      only the benchmark harness changed there (zp/benches/, probe-protocol/): the measurement moved, not zp"
            );
        }
        for cmd in &c.commands {
            let _ = writeln!(out, "      {cmd}");
        }
        if let Some(e) = &c.explained {
            let _ = writeln!(out, "      explained: {}", e.summary);
            for hs in e.hotspots.iter().take(3) {
                let _ = writeln!(
                    out,
                    "        {:+6.1}%  {} ({:.1}% → {:.1}% of the time)",
                    hs.growth_pct, hs.function, hs.before_pct, hs.after_pct
                );
            }
            for note in &e.notes {
                let _ = writeln!(out, "        note: {note}");
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn info(i: usize) -> CommitInfo {
        CommitInfo {
            id: format!("{i:040x}"),
            subject: format!("commit {i}"),
            author: "a".into(),
            date: "2026-11-24T00:00:00Z".into(),
            relevant_files: vec!["zp/src/lib.rs".into()],
        }
    }

    /// A history of `n` commits with one benchmark whose count steps up
    /// at `step`, measured by `shard` (all when `None`).
    fn simulated(n: usize, step: usize, shard: Option<Shard>) -> History {
        let owns = |i: usize| shard.is_none_or(|s| s.owns(i));
        let values: Vec<Option<f64>> = (0..n)
            .map(|i| owns(i).then_some(if i < step { 1000.0 } else { 1200.0 }))
            .collect();
        let sizes: Vec<Option<f64>> = (0..n).map(|i| owns(i).then_some(544.0)).collect();
        History {
            schema: SCHEMA.into(),
            created: "2026-11-24T00:00:00Z".into(),
            head: info(n - 1).id,
            build_key: BuildKey::of(BTreeMap::from([("rustc".into(), "1.95".into())])),
            valgrind: Some("valgrind-3.19.0".into()),
            cpu_features: vec!["aes".into(), "avx2".into(), "avx512f".into()],
            counted_features: vec!["aes".into(), "avx2".into()],
            machine: "m1".into(),
            kinds: vec![Kind::Instructions],
            shards: shard.into_iter().collect(),
            irrelevant: 3,
            commits: (0..n)
                .map(|i| Point {
                    commit: info(i),
                    measured: owns(i),
                    skipped: None,
                    probe: owns(i).then(|| format!("p{i}")),
                })
                .collect(),
            benches: BTreeMap::from([
                (
                    "encrypt_record_64k".to_string(),
                    Bench {
                        category: Category::Datapath,
                        series: BTreeMap::from([(Kind::Instructions, values)]),
                    },
                ),
                (
                    "session_state_size".to_string(),
                    Bench {
                        category: Category::Memory,
                        series: BTreeMap::from([(Kind::Bytes, sizes)]),
                    },
                ),
            ]),
            changes: Vec::new(),
            notes: Vec::new(),
            cost: Cost {
                builds: 1,
                measurements: 2,
                cached: 0,
                wall_s: 1.0,
            },
            time_load: None,
        }
    }

    fn write(dir: &Path, name: &str, h: &History) -> PathBuf {
        let p = dir.join(name);
        std::fs::write(&p, serde_json::to_vec(h).unwrap()).unwrap();
        p
    }

    #[test]
    fn shards_split_the_commits_and_refuse_bad_specs() {
        let s = Shard::parse("2/3").unwrap();
        assert_eq!((0..7).filter(|i| s.owns(*i)).collect::<Vec<_>>(), [1, 4]);
        assert_eq!(s.to_string(), "2/3");
        for bad in ["0/3", "4/3", "3", "a/b", "1/0"] {
            assert!(Shard::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn shard_files_merge_into_the_whole_history() {
        let (dir, ctx) = crate::fixtures::temp_ctx();
        let n = 11;
        let mut whole = simulated(n, 6, None);
        whole.detect_changes();
        let files: Vec<PathBuf> = (1..=3)
            .map(|k| {
                let s = Shard { index: k, count: 3 };
                write(dir.path(), &format!("s{k}.json"), &simulated(n, 6, Some(s)))
            })
            .collect();
        let mut merged = merge(&ctx, &files).unwrap();
        merged.detect_changes();
        assert!(merged.complete());
        assert_eq!(merged.benches, whole.benches);
        assert_eq!(merged.changes, whole.changes);
        assert_eq!(merged.shards.len(), 3);
        assert_eq!(merged.changes.len(), 1, "{:?}", merged.changes);
        let c = &merged.changes[0];
        assert_eq!((c.at, c.kind), (6, Kind::Instructions));
        assert!((c.point.ratio - 1.2).abs() < 1e-12);
        assert!(
            c.commands[0].starts_with(
                "cargo xtask bisect encrypt_record_64k --good 0000000000 --bad 0000000000"
            ),
            "{:?}",
            c.commands
        );
        // Its file round-trips.
        let path = save(&ctx, &merged, None).unwrap();
        assert_eq!(load(&path).unwrap(), merged);
        assert_eq!(latest(&ctx).0.unwrap().1, merged);

        // Two of three shards: merged, with the gap said.
        let partial = merge(&ctx, &files[..2]).unwrap();
        assert!(!partial.complete());
        assert!(
            partial
                .notes
                .iter()
                .any(|n| n.contains("shards 3/3 are missing")),
            "{:?}",
            partial.notes
        );
    }

    #[test]
    fn merge_refuses_shards_that_are_not_comparable() {
        let (dir, ctx) = crate::fixtures::temp_ctx();
        let s = |k| Some(Shard { index: k, count: 2 });
        let a = write(dir.path(), "a.json", &simulated(6, 3, s(1)));
        let refused = |h: History| {
            let b = write(dir.path(), "b.json", &h);
            let err = merge(&ctx, &[a.clone(), b]).unwrap_err();
            assert!(err.is::<CannotMerge>(), "{err:#}");
            assert_eq!(crate::exit_code_of(&err), 3);
            err.to_string()
        };
        let mut other_rustc = simulated(6, 3, s(2));
        other_rustc.build_key = BuildKey::of(BTreeMap::from([("rustc".into(), "1.96".into())]));
        assert!(refused(other_rustc).contains("differs in rustc"));
        let mut other_valgrind = simulated(6, 3, s(2));
        other_valgrind.valgrind = Some("valgrind-3.22.0".into());
        assert!(refused(other_valgrind).contains("valgrind"));
        let mut no_aes = simulated(6, 3, s(2));
        no_aes.counted_features = vec!["avx2".into()];
        let err = refused(no_aes);
        assert!(err.contains("only the first: aes"), "{err}");
        assert!(refused(simulated(7, 3, s(2))).contains("different histories"));
        // A host feature valgrind does not show (AVX-512) does not matter.
        let mut no_avx512 = simulated(6, 3, s(2));
        no_avx512.cpu_features = vec!["aes".into(), "avx2".into()];
        let b = write(dir.path(), "b.json", &no_avx512);
        assert!(merge(&ctx, &[a.clone(), b]).unwrap().complete());
        // Two shards that measured one commit differently.
        let mut clash = simulated(6, 3, None);
        clash.shards = vec![Shard { index: 2, count: 2 }];
        if let Some(s) = clash
            .benches
            .get_mut("encrypt_record_64k")
            .and_then(|b| b.series.get_mut(&Kind::Instructions))
        {
            s[0] = Some(999.0);
        }
        assert!(refused(clash).contains("disagree"));
        // A damaged file names its field.
        let bad = dir.path().join("bad.json");
        std::fs::write(
            &bad,
            r#"{"schema": "zp-workbench-history/1", "created": 5}"#,
        )
        .unwrap();
        let err = merge(&ctx, &[bad]).unwrap_err();
        assert!(err.to_string().contains("`created`"), "{err}");
    }

    #[test]
    fn time_from_other_machines_is_dropped_in_a_merge() {
        let (dir, ctx) = crate::fixtures::temp_ctx();
        let timed = |k: usize, machine: &str| {
            let mut h = simulated(4, 2, Some(Shard { index: k, count: 2 }));
            h.kinds = vec![Kind::Instructions, Kind::Time];
            h.machine = machine.into();
            let owns = |i: usize| i % 2 == k - 1;
            h.benches
                .get_mut("encrypt_record_64k")
                .unwrap()
                .series
                .insert(
                    Kind::Time,
                    (0..4).map(|i| owns(i).then_some(50_000.0)).collect(),
                );
            h
        };
        let a = write(dir.path(), "a.json", &timed(1, "m1"));
        let b = write(dir.path(), "b.json", &timed(2, "m2"));
        let merged = merge(&ctx, &[a.clone(), b]).unwrap();
        assert!(merged.series("encrypt_record_64k", Kind::Time).is_none());
        assert!(
            merged
                .notes
                .iter()
                .any(|n| n.contains("different machines"))
        );
        let same = write(dir.path(), "c.json", &timed(2, "m1"));
        let merged = merge(&ctx, &[a, same]).unwrap();
        assert_eq!(
            merged.series("encrypt_record_64k", Kind::Time).unwrap(),
            [Some(50_000.0); 4]
        );
    }

    fn flags(benches: &[&str], shard: Option<Shard>, out: Option<PathBuf>) -> flags::History {
        flags::History {
            benches: benches.iter().map(|b| b.to_string()).collect(),
            since: None,
            last: None,
            until: "HEAD".into(),
            metric: HistoryMetric::Instructions,
            shard,
            merge: Vec::new(),
            out,
            explain: false,
            workers: Some(2),
            jobs: None,
            fresh: false,
        }
    }

    /// The miniature zp's history, really built and counted: the planted
    /// commit is the one change point, shards merge into the same series,
    /// and a second run is served from the caches.
    #[test]
    fn a_real_history_finds_the_planted_commit_and_shards_merge_to_it() {
        let m = crate::fixtures::mini_history(true);
        let ctx = m.ctx();
        let mut whole = flags(&["spin", "state_size"], None, None)
            .measure(&ctx)
            .unwrap();
        whole.detect_changes();
        // The README-only commits are left out; the root is measured.
        assert_eq!(whole.irrelevant, 2);
        assert_eq!(whole.commits.len(), 6);
        assert!(
            whole.commits.iter().all(|p| p.measured),
            "{:?}",
            whole.notes
        );
        let spin = whole.series("spin", Kind::Instructions).unwrap();
        let more_work = whole
            .commits
            .iter()
            .position(|p| p.commit.subject == "more work")
            .unwrap();
        assert!(spin.iter().all(Option::is_some));
        let [c] = whole.changes.as_slice() else {
            panic!("{}", render(&whole))
        };
        assert_eq!(
            (c.bench.as_str(), c.at),
            ("spin", more_work),
            "{}",
            render(&whole)
        );
        assert!(c.point.ratio > 1.8 && c.point.ratio < 2.2, "{c:?}");
        assert_eq!(
            whole.series("state_size", Kind::Bytes).unwrap(),
            [Some(64.0); 6]
        );
        // Commits whose probe is byte-identical to an earlier one's (a
        // comment at the end) are served from the measurement cache.
        assert_eq!(
            whole.cost.measurements + whole.cost.cached,
            12,
            "{:?}",
            whole.cost
        );
        assert!(whole.cost.measurements >= 4, "{:?}", whole.cost);
        m.untouched().unwrap();

        // Two shards, as two machines would run them, then merged.
        let dir = tempfile::tempdir().unwrap();
        let files: Vec<PathBuf> = (1..=2)
            .map(|k| {
                let out = dir.path().join(format!("shard-{k}.json"));
                let f = flags(
                    &["spin", "state_size"],
                    Some(Shard { index: k, count: 2 }),
                    Some(out.clone()),
                );
                f.run(&ctx).unwrap();
                out
            })
            .collect();
        let shard = load(&files[0]).unwrap();
        assert!(!shard.complete());
        assert_eq!(shard.commits.iter().filter(|p| p.measured).count(), 3);
        // Everything came from the caches the whole run filled.
        assert_eq!(
            (shard.cost.builds, shard.cost.measurements),
            (0, 0),
            "{:?}",
            shard.cost
        );
        let mut merged = merge(&ctx, &files).unwrap();
        merged.detect_changes();
        assert_eq!(merged.benches, whole.benches);
        assert_eq!(merged.changes, whole.changes);
        m.untouched().unwrap();
    }

    #[test]
    fn bad_input_is_refused_before_anything_is_built() {
        let m = crate::fixtures::mini_history(false);
        let ctx = m.ctx();
        let err = flags(&["spni"], None, None).measure(&ctx).unwrap_err();
        assert!(
            err.is::<crate::Usage>() && err.to_string().contains("did you mean `spin`"),
            "{err}"
        );
        let mut f = flags(&[], None, None);
        f.since = Some("no-such-rev".into());
        assert!(
            f.measure(&ctx)
                .unwrap_err()
                .to_string()
                .contains("unknown revision")
        );
        f.since = Some("HEAD".into());
        assert!(
            f.measure(&ctx)
                .unwrap_err()
                .to_string()
                .contains("nothing after it")
        );
        let mut f = flags(&[], None, None);
        f.until = m.ids[1].to_string();
        f.since = Some(m.ids[2].to_string());
        assert!(
            f.measure(&ctx)
                .unwrap_err()
                .to_string()
                .contains("not an ancestor")
        );
    }

    /// The time pass through fake probes (the trait object every probe is
    /// taken as): each commit's value is the median of its rounds in the
    /// thread's CPU time, the load is kept, and on a busy machine a time
    /// step is listed as "cannot decide yet" rather than claimed.
    #[test]
    fn the_time_pass_measures_through_probes_and_a_busy_machine_decides_nothing() {
        let mut h = simulated(8, 4, None);
        h.kinds.push(Kind::Time);
        h.benches
            .get_mut("encrypt_record_64k")
            .unwrap()
            .series
            .insert(Kind::Time, vec![None; 8]);
        let mut probes: BTreeMap<usize, (Box<dyn Probe>, BTreeSet<String>)> = BTreeMap::new();
        for at in 0..8 {
            let slow = if at >= 4 { 1.2 } else { 1.0 };
            let fake = crate::probe::Fake::new(move |_| {
                Ok(probe_protocol::Body::Time(probe_protocol::Time {
                    iters_per_sample: 100,
                    samples_ns: vec![2000.0 * slow; 10],
                    cpu_ns: Some(vec![1000.0 * slow; 10]),
                    wait_ns: Some(vec![1000.0 * slow; 10]),
                }))
            });
            let listed = ["encrypt_record_64k".to_string()].into();
            probes.insert(at, (Box::new(fake), listed));
        }
        let budgets = crate::fixtures::budgets();
        let benches: Vec<Budget> = vec![budgets.get("encrypt_record_64k").unwrap().clone()];
        time_pass(&mut probes, &benches, &mut h).unwrap();
        let series = h.series("encrypt_record_64k", Kind::Time).unwrap();
        assert_eq!(series[0], Some(1000.0));
        assert!((series[7].unwrap() - 1200.0).abs() < 1e-9, "{series:?}");
        let load = h.time_load.expect("the load is kept");
        assert_eq!((load.observations, load.clock), (24, Clock::Cpu));
        assert!(load.busy(), "half of every sample waited for a CPU");
        h.detect_changes();
        let time: Vec<&Change> = h.changes.iter().filter(|c| c.kind == Kind::Time).collect();
        assert_eq!(time.len(), 1, "{:?}", h.changes);
        assert!(
            time[0]
                .undecided
                .as_deref()
                .is_some_and(|w| w.contains("the machine was busy")),
            "{:?}",
            time[0]
        );
        let text = render(&h);
        assert!(
            text.contains("? cannot decide yet encrypt_record_64k time +20.0%"),
            "{text}"
        );
        assert!(
            text.contains("time measured with thread CPU time; CPU busy"),
            "{text}"
        );
    }

    #[test]
    fn rendering_names_each_change_with_its_commands() {
        let mut h = simulated(12, 5, None);
        if let Some(s) = h
            .benches
            .get_mut("encrypt_record_64k")
            .and_then(|b| b.series.get_mut(&Kind::Instructions))
        {
            for v in s.iter_mut().skip(9) {
                *v = Some(900.0);
            }
        }
        // The step up came with a commit that changed only the harness.
        h.commits[5].commit.relevant_files = vec!["zp/benches/probe.rs".into()];
        h.detect_changes();
        let harness: Vec<bool> = h.changes.iter().map(|c| c.harness_only).collect();
        assert_eq!(harness, [true, false]);
        let text = render(&h);
        assert!(
            text.contains("only the benchmark harness changed there"),
            "{text}"
        );
        assert!(
            text.contains("▲ slower encrypt_record_64k instructions +20.0%"),
            "{text}"
        );
        assert!(
            text.contains("▼ faster encrypt_record_64k instructions -25.0%"),
            "{text}"
        );
        assert!(
            text.contains("cargo xtask bisect encrypt_record_64k --good"),
            "{text}"
        );
        assert!(
            text.contains("cargo xtask flame encrypt_record_64k --rev"),
            "{text}"
        );
        assert!(text.contains("2 changes"), "{text}");
        // An improvement has nothing to bisect.
        let faster = h.changes.iter().find(|c| c.improvement()).unwrap();
        assert!(faster.commands.iter().all(|c| !c.contains("bisect")));
    }
}
