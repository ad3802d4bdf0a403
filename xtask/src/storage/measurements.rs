//! Measurements cached by what was measured: the probe binary's
//! fingerprint (so a rebuild with other flags is a new key), the
//! benchmark, the instrument with its parameters, the tool's version
//! (valgrind's) and the machine state it depends on (the CPU features
//! that select a crypto crate's code path, or for time the machine's
//! fingerprint).
//!
//! Instruction counts are exact, so a cached count is as good as a new
//! one, and so is an exact profile (callgrind's costs per call stack,
//! `measure::exact`). Time is not: it depends on the machine and the
//! moment, and a comparison in time is a set of randomly ordered rounds
//! taken together, so time is never cached.
//!
//! An entry is a folder per key under `profiles/cache/measurements/`,
//! holding one file per invocation that measured it (so two processes
//! never overwrite each other's). Each file repeats its key and is
//! verified on reading; a damaged one is removed and measured again.

use crate::host::fnv1a;
use crate::storage::atomic;
use crate::vcs::probe::{self, Probe};
use anyhow::Result;
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};

const SCHEMA: &str = "zp-workbench-measurement/1";

/// Iterations per callgrind count: enough to dwarf the routine's
/// first-call effects, few enough for valgrind's 50x slowdown. One value
/// for every command (bisect, ci, history), so that they share counts.
pub const CALLGRIND_ITERS: u64 = 10;

/// `valgrind --version` (part of an instruction count's key), or `None`
/// when valgrind is not installed.
pub fn valgrind_version() -> Option<String> {
    let out = std::process::Command::new("valgrind")
        .arg("--version")
        .output()
        .ok()?;
    out.status
        .success()
        .then(|| String::from_utf8_lossy(&out.stdout).trim().to_string())
}

/// The variable that makes the workbench print the CPU features it sees
/// and exit (see [`features_under_valgrind`]).
pub const PRINT_FEATURES: &str = "ZP_WORKBENCH_PRINT_FEATURES";

/// The CPU features a probe sees under valgrind, which emulates a CPU of
/// its own: valgrind 3.19 on a host with SHA-NI, ADX and AVX-512 reports
/// none of them, so the crypto crates take the same paths under it on
/// hosts that differ only there. Found by running this very binary under
/// valgrind (`--tool=none`, about a second). Only the workbench's binary
/// answers [`PRINT_FEATURES`] (a test binary would run its tests), so any
/// other program gets the host's features.
pub fn features_under_valgrind() -> Result<Vec<String>> {
    let exe = std::env::current_exe()?;
    if exe.file_stem().is_none_or(|s| s != "xtask") {
        return Ok(crate::host::detected_features());
    }
    let out = crate::process::output(
        std::process::Command::new("valgrind")
            .args(["-q", "--tool=none"])
            .arg(&exe)
            .env(PRINT_FEATURES, "1"),
        crate::process::Stderr::Capture,
    )?;
    if !out.status.success() {
        anyhow::bail!(
            "valgrind could not run the workbench to read its CPU features: {}",
            crate::process::last_lines(&out.stderr, 3)
        );
    }
    Ok(String::from_utf8_lossy(&out.stdout)
        .split(',')
        .map(|f| f.trim().to_string())
        .filter(|f| !f.is_empty())
        .collect())
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Key {
    /// The probe binary's fingerprint.
    pub probe: String,
    pub bench: String,
    /// The instrument and its parameters (`callgrind --iters 10`).
    pub instrument: String,
    /// The measuring tool's version (`valgrind-3.19.0`), if any.
    pub tool: String,
    /// What else the value depends on: the CPU features for instruction
    /// counts, the machine's fingerprint for time.
    pub machine: String,
}

impl Key {
    /// An instruction count per iteration under callgrind, which depends on
    /// valgrind's version and on the CPU features that pick the crypto
    /// crates' code paths.
    pub fn instructions(probe: &str, bench: &str, valgrind: &str, cpu_features: &str) -> Key {
        Key {
            probe: probe.into(),
            bench: bench.into(),
            instrument: format!("callgrind --iters {CALLGRIND_ITERS}"),
            tool: valgrind.into(),
            machine: cpu_features.into(),
        }
    }

    /// A memory benchmark's size: the same on every machine.
    pub fn bytes(probe: &str, bench: &str) -> Key {
        Key {
            probe: probe.into(),
            bench: bench.into(),
            instrument: "bytes".into(),
            tool: String::new(),
            machine: String::new(),
        }
    }
}

#[derive(Debug, Serialize, Deserialize)]
struct Stored {
    schema: String,
    key: Key,
    #[serde(default)]
    values: Vec<f64>,
    /// A measurement that is more than numbers (an exact profile).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    doc: Option<serde_json::Value>,
}

pub struct Cache {
    dir: PathBuf,
    /// Notes about entries found damaged (and removed).
    pub repaired: Vec<String>,
}

impl Cache {
    pub fn new(dir: &Path) -> Cache {
        Cache {
            dir: dir.to_path_buf(),
            repaired: Vec::new(),
        }
    }

    fn folder(&self, key: &Key) -> PathBuf {
        let id = serde_json::to_string(key).expect("keys serialize");
        self.dir
            .join(&key.probe)
            .join(&key.bench)
            .join(format!("{:016x}", fnv1a(id.as_bytes())))
    }

    /// Every entry stored under `key`, in the order the files were
    /// written; damaged ones are removed and noted.
    fn entries(&mut self, key: &Key) -> Vec<Stored> {
        // File names start with the time: sorted, they are in order.
        let files = atomic::json_files(&self.folder(key), "");
        let mut out = Vec::new();
        for f in files {
            match read(&f, key) {
                Ok(s) => out.push(s),
                Err(why) => {
                    self.repaired
                        .push(format!("{}: {why}; removed", f.display()));
                    let _ = std::fs::remove_file(&f);
                }
            }
        }
        out
    }

    /// Every value stored under `key`, in the order the files were written;
    /// empty when none.
    pub fn get(&mut self, key: &Key) -> Vec<f64> {
        self.entries(key)
            .into_iter()
            .flat_map(|s| s.values)
            .collect()
    }

    /// The newest document stored under `key` that reads as a `T`.
    pub fn get_doc<T: serde::de::DeserializeOwned>(&mut self, key: &Key) -> Option<T> {
        self.entries(key)
            .into_iter()
            .rev()
            .find_map(|s| serde_json::from_value(s.doc?).ok())
    }

    /// Stores a document (an exact profile) under `key`.
    pub fn put_doc<T: Serialize>(&self, key: &Key, doc: &T) -> Result<()> {
        self.store(Stored {
            schema: SCHEMA.into(),
            key: key.clone(),
            values: Vec::new(),
            doc: Some(serde_json::to_value(doc)?),
        })
    }

    /// Stores `values` as this invocation's observations of `key`.
    pub fn put(&self, key: &Key, values: &[f64]) -> Result<()> {
        if values.is_empty() {
            return Ok(());
        }
        self.store(Stored {
            schema: SCHEMA.into(),
            key: key.clone(),
            values: values.to_vec(),
            doc: None,
        })
    }

    fn store(&self, stored: Stored) -> Result<()> {
        let bytes = serde_json::to_vec(&stored)?;
        let stem = format!("{}-{}", crate::host::utc_now().0, std::process::id());
        atomic::write_unique(&self.folder(&stored.key), &stem, "json", |_| bytes.clone())?;
        Ok(())
    }

    /// An exact value (an instruction count or a size, as `key` says) from
    /// the cache, or measured with `probe` and cached: the value, and
    /// whether it came from the cache. `fresh` drops the cached one first.
    pub fn exact(&mut self, key: &Key, probe: &mut dyn Probe, fresh: bool) -> Result<(f64, bool)> {
        if fresh {
            self.forget(key)?;
        } else if let Some(v) = self.get(key).first() {
            return Ok((*v, true));
        }
        let v = if key.instrument == "bytes" {
            probe::bytes(probe, &key.bench)? as f64
        } else {
            probe::callgrind(probe, &key.bench, CALLGRIND_ITERS)?.instructions_per_iter
        };
        self.put(key, &[v])?;
        Ok((v, false))
    }

    /// Drops everything stored under `key` (`--fresh`).
    pub fn forget(&self, key: &Key) -> Result<()> {
        atomic::remove_dir(&self.folder(key))
    }
}

fn read(file: &Path, key: &Key) -> std::result::Result<Stored, String> {
    let text = std::fs::read_to_string(file).map_err(|e| format!("unreadable ({e})"))?;
    let s: Stored = serde_json::from_str(&text).map_err(|e| format!("damaged ({e})"))?;
    if s.schema != SCHEMA || s.key != *key {
        return Err("it holds another measurement".into());
    }
    if s.doc.is_none()
        && (s.values.is_empty() || s.values.iter().any(|v| !v.is_finite() || *v <= 0.0))
    {
        return Err("its values are not positive numbers".into());
    }
    Ok(s)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(probe: &str) -> Key {
        Key::instructions(probe, "encrypt_record_1k", "valgrind-3.19.0", "aes,avx2")
    }

    #[test]
    fn values_are_found_by_everything_that_was_measured() {
        let dir = tempfile::tempdir().unwrap();
        let mut c = Cache::new(dir.path());
        c.put(&key("aaaa"), &[12112.3]).unwrap();
        assert_eq!(c.get(&key("aaaa")), [12112.3]);
        // Another binary (say, rebuilt with other RUSTFLAGS) is another key.
        assert!(c.get(&key("bbbb")).is_empty());
        let mut other_tool = key("aaaa");
        other_tool.tool = "valgrind-3.22.0".into();
        assert!(c.get(&other_tool).is_empty());
        // Two invocations' observations are both kept.
        c.put(&key("aaaa"), &[12112.3]).unwrap();
        assert_eq!(c.get(&key("aaaa")).len(), 2);
        c.forget(&key("aaaa")).unwrap();
        assert!(c.get(&key("aaaa")).is_empty());
    }

    #[test]
    fn damaged_entries_are_removed_not_trusted() {
        let dir = tempfile::tempdir().unwrap();
        let mut c = Cache::new(dir.path());
        c.put(&key("aaaa"), &[5.0]).unwrap();
        let folder = c.folder(&key("aaaa"));
        let file = std::fs::read_dir(&folder)
            .unwrap()
            .next()
            .unwrap()
            .unwrap()
            .path();
        std::fs::write(
            &file,
            "{\"schema\": \"zp-workbench-measurement/1\", \"key\": ",
        )
        .unwrap();
        assert!(c.get(&key("aaaa")).is_empty());
        assert!(!file.exists());
        assert!(c.repaired[0].contains("damaged"), "{:?}", c.repaired);
        // A file moved under the wrong key is not believed either.
        c.put(&key("aaaa"), &[5.0]).unwrap();
        let wrong = Stored {
            schema: SCHEMA.into(),
            key: key("zzzz"),
            values: vec![1.0],
            doc: None,
        };
        std::fs::write(folder.join("0-x.json"), serde_json::to_vec(&wrong).unwrap()).unwrap();
        assert_eq!(c.get(&key("aaaa")), [5.0]);
    }
}
