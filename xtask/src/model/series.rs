//! A measured history, as data: commits, one series per benchmark and kind,
//! the change points found in them and what explains each, the shards it
//! was measured in, and its file format (`SCHEMA`). `cargo xtask history`
//! measures one, `cargo xtask report` draws it.

use crate::budgets::Category;
use crate::model::changepoints::{self, ChangePoint, Settings};
use crate::model::observation::Load;
use crate::storage::builds::BuildKey;
use crate::units::{fmt_count, fmt_ns, short};
use crate::vcs::git::{self, CommitInfo};
use crate::{Ctx, storage::atomic};
use anyhow::Result;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// Identifies the file format.
pub const SCHEMA: &str = "zp-workbench-history/1";

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
pub(crate) fn clip(s: &str, n: usize) -> String {
    if s.chars().count() <= n {
        s.to_string()
    } else {
        s.chars().take(n - 1).chain(['…']).collect()
    }
}

/// Reads a history file, strictly.
pub fn load(path: &Path) -> Result<History> {
    let h: History = crate::storage::store::read_typed(path, SCHEMA, "history")?;
    h.validate().map_err(|why| {
        crate::storage::store::Corrupt(format!("{} is a damaged history: {why}", path.display()))
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
