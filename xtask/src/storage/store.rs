//! Runs on disk. A run is one JSON file under `profiles/runs/`; a baseline
//! is a named copy under `profiles/baselines/`, self-contained so it can be
//! moved between machines or kept as a CI artifact. Every folder the
//! workbench generates under `profiles/` is listed in [`GENERATED`] and
//! git-ignored (a tidy test checks both).
//!
//! Stored data is never trusted: a run is decoded strictly and validated
//! (finite, positive times; round medians that match their rounds; a
//! measurement of the right kind for its category), and any fault is a
//! [`Corrupt`] error naming the file and the field, never a panic.

use crate::budgets::Category;
use crate::host::{Build, Machine};
use crate::stats::Summary;
use anyhow::{Result, bail};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// Stored runs a benchmark's trend shows (this one included).
pub const TREND_RUNS: usize = 16;

/// Identifies the file format; a file without it is not ours.
pub const SCHEMA: &str = "zp-workbench-run/1";

/// The folders under `profiles/` the workbench writes; all git-ignored.
pub const GENERATED: &[&str] = &[
    "runs",
    "baselines",
    "reports",
    "flame",
    "dhat",
    "cache",
    "history",
    "site",
];

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Run {
    pub schema: String,
    pub id: String,
    pub created: String,
    /// The commit measured; `None` outside a git repository.
    pub commit: Option<String>,
    pub dirty: bool,
    pub machine: Machine,
    pub build: Build,
    pub settings: Settings,
    pub benchmarks: BTreeMap<String, Measured>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Settings {
    pub quick: bool,
    pub warm_up_s: f64,
    pub measurement_s: f64,
    pub sample_size: u32,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Measured {
    pub category: Category,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub time: Option<Timing>,
    /// Memory benchmarks: the measured size.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bytes: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub allocs: Option<Allocs>,
}

/// Per-iteration times in nanoseconds.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Timing {
    /// Every round's samples: each one criterion sample's time divided by
    /// its iteration count.
    pub rounds: Vec<Vec<f64>>,
    /// The median of each round: the observations the verdict is decided on.
    pub round_medians: Vec<f64>,
    /// Over all samples of all rounds.
    pub summary: Summary,
}

impl Timing {
    pub fn from_rounds(rounds: Vec<Vec<f64>>) -> Timing {
        let round_medians = rounds.iter().map(|r| crate::stats::median(r)).collect();
        let all: Vec<f64> = rounds.iter().flatten().copied().collect();
        Timing {
            summary: Summary::of(&all),
            rounds,
            round_medians,
        }
    }

    /// The headline number: the median of the round medians.
    pub fn median(&self) -> f64 {
        crate::stats::median(&self.round_medians)
    }
}

/// Heap activity of one iteration, from dhat in the probe.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Allocs {
    pub per_iter: f64,
    pub bytes_per_iter: f64,
    pub peak_live_bytes: u64,
    #[serde(default)]
    pub top_sites: Vec<Site>,
}

impl Allocs {
    /// From the probe's `alloc` instrument.
    pub fn from_probe(a: &probe_protocol::Alloc) -> Allocs {
        Allocs {
            per_iter: a.allocs_per_iter,
            bytes_per_iter: a.bytes_per_iter,
            peak_live_bytes: a.peak_live_bytes,
            top_sites: a
                .top_sites
                .iter()
                .map(|s| Site {
                    blocks: s.blocks,
                    bytes: s.bytes,
                    stack: s.stack.clone(),
                })
                .collect(),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Site {
    pub blocks: u64,
    pub bytes: u64,
    pub stack: Vec<String>,
}

/// Where runs and baselines live.
pub struct Store {
    root: PathBuf,
}

impl Store {
    pub fn new(profiles: &Path) -> Store {
        Store {
            root: profiles.to_path_buf(),
        }
    }

    fn runs(&self) -> PathBuf {
        self.root.join("runs")
    }

    fn baselines(&self) -> PathBuf {
        self.root.join("baselines")
    }

    pub fn reports(&self) -> PathBuf {
        self.generated("reports")
    }

    /// Probe builds and measurements (`builds.rs`, `measurements.rs`).
    pub fn cache(&self) -> PathBuf {
        self.generated("cache")
    }

    /// One of the [`GENERATED`] folders.
    pub fn generated(&self, name: &str) -> PathBuf {
        debug_assert!(GENERATED.contains(&name), "{name} is not in GENERATED");
        self.root.join(name)
    }

    /// Stores a run under its id, or under `<id>-2`, `<id>-3`, … when that
    /// is taken (two runs in the same second), and sets `run.id` to the id
    /// it got.
    pub fn save_run(&self, run: &mut Run) -> Result<PathBuf> {
        let base = run.id.clone();
        let dir = self.runs();
        let mut failed = None;
        let id = crate::storage::atomic::write_unique(&dir, &base, "json", |id| {
            let mut r = run.clone();
            r.id = id.to_string();
            serde_json::to_vec_pretty(&r).unwrap_or_else(|e| {
                failed = Some(e.to_string());
                Vec::new()
            })
        })?;
        if let Some(e) = failed {
            bail!("cannot encode run {base}: {e}");
        }
        run.id = id;
        Ok(dir.join(format!("{}.json", run.id)))
    }

    pub fn save_baseline(&self, name: &str, run: &Run) -> Result<PathBuf> {
        check_name(name)?;
        let path = self.baselines().join(format!("{name}.json"));
        crate::storage::atomic::write(&path, &serde_json::to_vec_pretty(run)?)?;
        Ok(path)
    }

    /// The newest run that loads, for a comparison nobody named; runs that
    /// do not load are skipped, each with the reason.
    pub fn latest_valid_run(&self) -> (Option<Run>, Vec<String>) {
        let mut skipped = Vec::new();
        for id in self.run_ids().iter().rev() {
            match load(&self.runs().join(format!("{id}.json"))) {
                Ok(run) => return (Some(run), skipped),
                Err(e) => skipped.push(format!("{e:#}")),
            }
        }
        (None, skipped)
    }

    /// The newest `n` runs that load, oldest first (runs that do not load
    /// are left out).
    pub fn recent_runs(&self, n: usize) -> Vec<Run> {
        let mut out: Vec<Run> = self
            .run_ids()
            .iter()
            .rev()
            .filter_map(|id| load(&self.runs().join(format!("{id}.json"))).ok())
            .take(n)
            .collect();
        out.reverse();
        out
    }

    pub fn baseline_names(&self) -> Vec<String> {
        names_in(&self.baselines())
    }

    /// Run ids, oldest first (ids start with the UTC time).
    pub fn run_ids(&self) -> Vec<String> {
        names_in(&self.runs())
    }

    pub fn has_baseline(&self, name: &str) -> bool {
        self.baselines().join(format!("{name}.json")).is_file()
    }

    /// A run by what a user types: a path to a JSON file, `latest`, a
    /// baseline name, a run id or a unique prefix of one.
    pub fn resolve(&self, what: &str) -> Result<(String, Run)> {
        let path = if what.ends_with(".json") || what.contains('/') {
            PathBuf::from(what)
        } else if what == "latest" {
            let Some(id) = self.run_ids().pop() else {
                bail!(NotFound(format!(
                    "no runs stored in {} yet",
                    self.runs().display()
                )))
            };
            self.runs().join(format!("{id}.json"))
        } else if self.has_baseline(what) {
            return Ok((
                format!("baseline `{what}`"),
                load(&self.baselines().join(format!("{what}.json")))?,
            ));
        } else {
            let ids: Vec<String> = self
                .run_ids()
                .into_iter()
                .filter(|id| id.starts_with(what))
                .collect();
            match ids.as_slice() {
                [id] => self.runs().join(format!("{id}.json")),
                [] => bail!(NotFound(self.not_found(what))),
                many => bail!(NotFound(format!(
                    "`{what}` matches {} runs: {}",
                    many.len(),
                    many.join(", ")
                ))),
            }
        };
        let run = load(&path)?;
        Ok((format!("run {}", run.id), run))
    }

    fn not_found(&self, what: &str) -> String {
        let baselines = self.baseline_names();
        let runs = self.run_ids();
        let b = if baselines.is_empty() {
            "none".to_string()
        } else {
            baselines.join(", ")
        };
        let r = match runs.len() {
            0 => "none".to_string(),
            n => format!("{n}, the latest {}", runs[n - 1]),
        };
        format!(
            "no baseline or run named `{what}`; baselines: {b}; runs: {r} \
             (save one with `cargo xtask bench --save-baseline {what}`)"
        )
    }
}

crate::message_error!(
    /// A reference that names nothing stored (exit code: could not compare).
    NotFound
);

impl Store {
    /// Refuses names that are not plain file names.
    pub fn check_name(name: &str) -> Result<()> {
        check_name(name)
    }
}

fn check_name(name: &str) -> Result<()> {
    let ok = !name.is_empty()
        && name != "latest"
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
        && !name.starts_with('.');
    if !ok {
        bail!(crate::Usage(format!(
            "`{name}` cannot name a baseline: use letters, digits, `-`, `_` and `.` (and not `latest`)"
        )));
    }
    Ok(())
}

fn names_in(dir: &Path) -> Vec<String> {
    crate::storage::atomic::json_files(dir, "")
        .iter()
        .filter_map(|p| Some(p.file_stem()?.to_str()?.to_string()))
        .collect()
}

/// Reads a run, with an error that names the file and says what is wrong.
pub fn load(path: &Path) -> Result<Run> {
    let run: Run = read_typed(path, SCHEMA, "run")?;
    run.validate()
        .map_err(|why| Corrupt(format!("{} is a damaged run: {why}", path.display())))?;
    Ok(run)
}

/// A JSON file of the workbench's, decoded strictly: its `schema` field
/// must be `schema`, and a field that does not decode is named. `noun`
/// says what the file is in messages ("run", "history").
pub fn read_typed<T: serde::de::DeserializeOwned>(
    path: &Path,
    schema: &str,
    noun: &str,
) -> Result<T> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| NotFound(format!("cannot read {}: {e}", path.display())))?;
    let value: serde_json::Value = serde_json::from_str(&text)
        .map_err(|e| Corrupt(format!("{} is not valid JSON: {e}", path.display())))?;
    match value.get("schema").and_then(|s| s.as_str()) {
        Some(s) if s == schema => {}
        Some(other) => bail!(Corrupt(format!(
            "{} is a `{other}` file; this workbench reads `{schema}`",
            path.display()
        ))),
        None => bail!(Corrupt(format!(
            "{} is not a zp workbench {noun} (it has no `schema` field)",
            path.display()
        ))),
    }
    serde_path_to_error::deserialize(value).map_err(|e| {
        Corrupt(format!(
            "{} is a damaged {noun}: `{}`: {}",
            path.display(),
            e.path(),
            e.inner()
        ))
        .into()
    })
}

impl Run {
    /// A benchmark's headline: its median time, or its size.
    pub fn headline(&self, bench: &str) -> Option<f64> {
        let m = self.benchmarks.get(bench)?;
        m.time
            .as_ref()
            .map(Timing::median)
            .or(m.bytes.map(|b| b as f64))
    }

    /// Measured on the same hardware with the same zp features: their
    /// headlines belong in one trend.
    pub fn comparable(&self, other: &Run) -> bool {
        self.machine.fingerprint == other.machine.fingerprint
            && self.build.features == other.build.features
    }

    /// What the types cannot say: every time is a finite positive number,
    /// every round has samples and its median matches them, and each
    /// benchmark holds the measurement its category needs. The error names
    /// the field.
    pub fn validate(&self) -> std::result::Result<(), String> {
        if self.id.is_empty() {
            return Err("`id` is empty".into());
        }
        for (name, m) in &self.benchmarks {
            let at = |field: &str| format!("`benchmarks.{name}.{field}`");
            let positive = |field: String, v: f64| {
                if v.is_finite() && v > 0.0 {
                    Ok(())
                } else {
                    Err(format!("{field} is {v}, not a positive number"))
                }
            };
            match (m.category, &m.time, m.bytes) {
                (Category::Memory, _, None) => {
                    return Err(format!("{} is missing for a memory benchmark", at("bytes")));
                }
                (Category::Memory, _, Some(_)) => {}
                (_, None, _) => {
                    return Err(format!("{} is missing for a timed benchmark", at("time")));
                }
                (_, Some(t), _) => {
                    if t.rounds.is_empty() {
                        return Err(format!("{} is empty", at("time.rounds")));
                    }
                    if t.round_medians.len() != t.rounds.len() {
                        return Err(format!(
                            "{} has {} values for {} rounds",
                            at("time.round_medians"),
                            t.round_medians.len(),
                            t.rounds.len()
                        ));
                    }
                    for (i, round) in t.rounds.iter().enumerate() {
                        if round.is_empty() {
                            return Err(format!("{} is empty", at(&format!("time.rounds[{i}]"))));
                        }
                        for (j, v) in round.iter().enumerate() {
                            positive(at(&format!("time.rounds[{i}][{j}]")), *v)?;
                        }
                        let m = t.round_medians[i];
                        positive(at(&format!("time.round_medians[{i}]")), m)?;
                        let expected = crate::stats::median(round);
                        if (m - expected).abs() > 1e-9 * expected.abs() {
                            return Err(format!(
                                "{} is {m} but its round's median is {expected}",
                                at(&format!("time.round_medians[{i}]"))
                            ));
                        }
                    }
                }
            }
            if let Some(a) = &m.allocs {
                for (field, v) in [
                    ("allocs.per_iter", a.per_iter),
                    ("allocs.bytes_per_iter", a.bytes_per_iter),
                ] {
                    if !(v.is_finite() && v >= 0.0) {
                        return Err(format!("{} is {v}, not a count", at(field)));
                    }
                }
            }
        }
        Ok(())
    }
}

crate::message_error!(
    /// A file that exists but is not a readable run (exit code: could not compare).
    Corrupt
);

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fixtures::suite;

    #[test]
    fn runs_and_baselines_round_trip_and_resolve() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::new(dir.path());
        let mut a = suite("20261124-120000-1111111", "1111111111", 41_509.0, 0.0);
        let mut b = suite("20261124-130000-2222222", "2222222222", 41_000.0, 0.0);
        store.save_run(&mut a).unwrap();
        store.save_run(&mut b).unwrap();
        store.save_baseline("main", &a).unwrap();
        assert_eq!(
            store.resolve("main").unwrap(),
            ("baseline `main`".to_string(), a.clone())
        );
        assert_eq!(store.resolve("latest").unwrap().1, b);
        assert_eq!(store.resolve("20261124-12").unwrap().1, a);
        let path = dir.path().join("runs/20261124-130000-2222222.json");
        assert_eq!(store.resolve(path.to_str().unwrap()).unwrap().1, b);
        let err = store.resolve("20261124").unwrap_err();
        assert!(err.to_string().contains("matches 2 runs"), "{err}");
        assert!(err.is::<NotFound>());
    }

    #[test]
    fn a_missing_baseline_lists_what_exists() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::new(dir.path());
        let err = store.resolve("main").unwrap_err().to_string();
        assert!(err.contains("baselines: none; runs: none"), "{err}");
        store
            .save_baseline("feature-x", &suite("r1", "1", 1.0, 0.0))
            .unwrap();
        store.save_run(&mut suite("r1", "1", 1.0, 0.0)).unwrap();
        let err = store.resolve("mian").unwrap_err().to_string();
        assert!(
            err.contains(
                "no baseline or run named `mian`; baselines: feature-x; runs: 1, the latest r1"
            ),
            "{err}"
        );
        assert!(
            store
                .save_baseline("../escape", &suite("r1", "1", 1.0, 0.0))
                .is_err()
        );
        assert!(
            store
                .save_baseline("latest", &suite("r1", "1", 1.0, 0.0))
                .is_err()
        );
    }

    #[test]
    fn corrupt_and_foreign_files_are_named_in_the_error() {
        let dir = tempfile::tempdir().unwrap();
        let bad = dir.path().join("bad.json");
        std::fs::write(&bad, "{ not json").unwrap();
        let err = load(&bad).unwrap_err();
        assert!(
            err.is::<Corrupt>() && err.to_string().contains("bad.json is not valid JSON"),
            "{err}"
        );
        std::fs::write(&bad, r#"{"mean": {"point_estimate": 1.0}}"#).unwrap();
        assert!(
            load(&bad)
                .unwrap_err()
                .to_string()
                .contains("bad.json is not a zp workbench run")
        );
        std::fs::write(&bad, r#"{"schema": "zp-workbench-run/9"}"#).unwrap();
        assert!(
            load(&bad)
                .unwrap_err()
                .to_string()
                .contains("this workbench reads `zp-workbench-run/1`")
        );
        std::fs::write(&bad, r#"{"schema": "zp-workbench-run/1", "id": 3}"#).unwrap();
        let err = load(&bad).unwrap_err().to_string();
        assert!(err.contains("bad.json is a damaged run: `id`"), "{err}");
    }

    /// Every kind of damage a stored run can carry gives a [`Corrupt`]
    /// error (exit code 3) naming the file and the field; none panics.
    #[test]
    fn damaged_runs_name_the_field_and_never_panic() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("r.json");
        let good = suite("r1", "1111111111", 41_509.0, 0.0);
        let damage = |edit: &dyn Fn(&mut serde_json::Value)| {
            let mut v = serde_json::to_value(&good).unwrap();
            edit(&mut v);
            std::fs::write(&path, serde_json::to_vec(&v).unwrap()).unwrap();
            let err = load(&path).unwrap_err();
            assert!(err.is::<Corrupt>(), "{err:#}");
            err.to_string()
        };
        type Edit = Box<dyn Fn(&mut serde_json::Value)>;
        let cases: Vec<(&str, Edit)> = vec![
            (
                "`benchmarks.encrypt_record_64k.time.round_medians` has 0 values for 5 rounds",
                Box::new(|v| {
                    v["benchmarks"]["encrypt_record_64k"]["time"]["round_medians"] =
                        serde_json::json!([])
                }),
            ),
            (
                "`benchmarks.encrypt_record_64k.time.rounds` is empty",
                Box::new(|v| {
                    v["benchmarks"]["encrypt_record_64k"]["time"]["rounds"] = serde_json::json!([]);
                    v["benchmarks"]["encrypt_record_64k"]["time"]["round_medians"] =
                        serde_json::json!([]);
                }),
            ),
            (
                "`benchmarks.encrypt_record_64k.time.rounds[1]` is empty",
                Box::new(|v| {
                    v["benchmarks"]["encrypt_record_64k"]["time"]["rounds"][1] =
                        serde_json::json!([])
                }),
            ),
            (
                "`benchmarks.encrypt_record_64k.time.rounds[0][2]` is -1, not a positive number",
                Box::new(|v| {
                    v["benchmarks"]["encrypt_record_64k"]["time"]["rounds"][0][2] =
                        serde_json::json!(-1.0)
                }),
            ),
            (
                "`benchmarks.encrypt_record_64k.time.round_medians[3]` is 1 but its round's median is",
                Box::new(|v| {
                    v["benchmarks"]["encrypt_record_64k"]["time"]["round_medians"][3] =
                        serde_json::json!(1.0)
                }),
            ),
            (
                "`benchmarks.encrypt_record_64k.time.summary.p99`: invalid type: null",
                Box::new(|v| {
                    v["benchmarks"]["encrypt_record_64k"]["time"]["summary"]["p99"] =
                        serde_json::Value::Null
                }),
            ),
            (
                "`benchmarks.x25519_dh.time` is missing for a timed benchmark",
                Box::new(|v| {
                    v["benchmarks"]["x25519_dh"]
                        .as_object_mut()
                        .unwrap()
                        .remove("time");
                }),
            ),
            (
                "`benchmarks.connection_state_size.bytes` is missing for a memory benchmark",
                Box::new(|v| {
                    v["benchmarks"]["connection_state_size"]
                        .as_object_mut()
                        .unwrap()
                        .remove("bytes");
                }),
            ),
            (
                "`benchmarks.encrypt_record_64k.allocs.per_iter` is -2, not a count",
                Box::new(|v| {
                    v["benchmarks"]["encrypt_record_64k"]["allocs"]["per_iter"] =
                        serde_json::json!(-2.0)
                }),
            ),
        ];
        for (expected, edit) in &cases {
            let err = damage(edit.as_ref());
            assert!(
                err.contains("r.json is a damaged run") && err.contains(expected),
                "expected {expected}: {err}"
            );
        }
    }

    #[test]
    fn run_ids_stay_unique_within_a_second_and_bad_runs_are_skipped_when_implicit() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::new(dir.path());
        let mut a = suite("20261124-120000-1111111", "1111111111", 1.0, 0.0);
        let mut b = a.clone();
        store.save_run(&mut a).unwrap();
        store.save_run(&mut b).unwrap();
        assert_eq!(a.id, "20261124-120000-1111111");
        assert_eq!(b.id, "20261124-120000-1111111-2");
        assert_eq!(store.resolve(&b.id).unwrap().1, b);
        // The newest run is damaged: the implicit baseline is the one before.
        std::fs::write(
            dir.path().join("runs/20261124-130000-2222222.json"),
            "{ half",
        )
        .unwrap();
        let (run, skipped) = store.latest_valid_run();
        assert_eq!(run.unwrap().id, b.id);
        assert_eq!(skipped.len(), 1);
        assert!(
            skipped[0].contains("20261124-130000-2222222.json is not valid JSON"),
            "{skipped:?}"
        );
    }
}
