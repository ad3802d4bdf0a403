//! Runs on disk. A run is one JSON file under `profiles/runs/`; a baseline
//! is a named copy under `profiles/baselines/`, self-contained so it can be
//! moved between machines or kept as a CI artifact. Both folders are
//! git-ignored.

use crate::budgets::Category;
use crate::host::{Build, Machine};
use crate::stats::Summary;
use anyhow::{Context, Result, bail};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// Identifies the file format; a file without it is not ours.
pub const SCHEMA: &str = "zp-workbench-run/1";

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
    pub fn from_probe(v: &serde_json::Value) -> Result<Allocs> {
        let strings = |x: &serde_json::Value| -> Vec<String> {
            x.as_array()
                .into_iter()
                .flatten()
                .filter_map(|f| f.as_str().map(String::from))
                .collect()
        };
        Ok(Allocs {
            per_iter: v["allocs_per_iter"]
                .as_f64()
                .context("the probe reported no allocs_per_iter")?,
            bytes_per_iter: v["bytes_per_iter"]
                .as_f64()
                .context("the probe reported no bytes_per_iter")?,
            peak_live_bytes: v["peak_live_bytes"].as_u64().unwrap_or(0),
            top_sites: v["top_sites"]
                .as_array()
                .into_iter()
                .flatten()
                .map(|s| Site {
                    blocks: s["blocks"].as_u64().unwrap_or(0),
                    bytes: s["bytes"].as_u64().unwrap_or(0),
                    stack: strings(&s["stack"]),
                })
                .collect(),
        })
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
        self.root.join("reports")
    }

    pub fn save_run(&self, run: &Run) -> Result<PathBuf> {
        write_json(&self.runs().join(format!("{}.json", run.id)), run)
    }

    pub fn save_baseline(&self, name: &str, run: &Run) -> Result<PathBuf> {
        check_name(name)?;
        write_json(&self.baselines().join(format!("{name}.json")), run)
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
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|e| {
            e.file_name()
                .to_str()?
                .strip_suffix(".json")
                .map(String::from)
        })
        .collect();
    names.sort();
    names
}

fn write_json(path: &Path, run: &Run) -> Result<PathBuf> {
    let dir = path.parent().expect("a file in a folder");
    std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    // Write then rename, so an interrupted save never leaves half a file.
    let tmp = path.with_extension("json.tmp");
    std::fs::write(&tmp, serde_json::to_vec_pretty(run)?)
        .with_context(|| format!("cannot write {}", tmp.display()))?;
    std::fs::rename(&tmp, path).with_context(|| format!("cannot write {}", path.display()))?;
    Ok(path.to_path_buf())
}

/// Reads a run, with an error that names the file and says what is wrong.
pub fn load(path: &Path) -> Result<Run> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| NotFound(format!("cannot read {}: {e}", path.display())))?;
    let value: serde_json::Value = serde_json::from_str(&text)
        .map_err(|e| Corrupt(format!("{} is not valid JSON: {e}", path.display())))?;
    match value.get("schema").and_then(|s| s.as_str()) {
        Some(SCHEMA) => {}
        Some(other) => bail!(Corrupt(format!(
            "{} is a `{other}` file; this workbench reads `{SCHEMA}`",
            path.display()
        ))),
        None => bail!(Corrupt(format!(
            "{} is not a zp workbench run (it has no `schema` field)",
            path.display()
        ))),
    }
    serde_json::from_value(value)
        .map_err(|e| Corrupt(format!("{} is a damaged run: {e}", path.display())).into())
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
        let a = suite("20261124-120000-1111111", "1111111111", 41_509.0, 0.0);
        let b = suite("20261124-130000-2222222", "2222222222", 41_000.0, 0.0);
        store.save_run(&a).unwrap();
        store.save_run(&b).unwrap();
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
        store.save_run(&suite("r1", "1", 1.0, 0.0)).unwrap();
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
        assert!(
            load(&bad)
                .unwrap_err()
                .to_string()
                .contains("bad.json is a damaged run")
        );
    }
}
