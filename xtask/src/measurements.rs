//! Measurements cached by what was measured: the probe binary's
//! fingerprint (so a rebuild with other flags is a new key), the
//! benchmark, the instrument with its parameters, the tool's version
//! (valgrind's) and the machine state it depends on (the CPU features
//! that select a crypto crate's code path, or for time the machine's
//! fingerprint).
//!
//! Instruction counts are exact, so a cached count is as good as a new
//! one. Time is not: it depends on the machine and the moment, so a bisect
//! stores its time observations but replays them into a new interleaved
//! comparison only when asked (`--reuse-time`) and only from the same
//! machine.
//!
//! An entry is a folder per key under `profiles/cache/measurements/`,
//! holding one file per invocation that measured it (so two processes
//! never overwrite each other's). Each file repeats its key and is
//! verified on reading; a damaged one is removed and measured again.

use crate::atomic;
use crate::host::fnv1a;
use anyhow::Result;
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};

const SCHEMA: &str = "zp-workbench-measurement/1";

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

#[derive(Debug, Serialize, Deserialize)]
struct Stored {
    schema: String,
    key: Key,
    values: Vec<f64>,
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

    /// Every value stored under `key`, in the order the files were written
    /// (file names start with the time); empty when none.
    pub fn get(&mut self, key: &Key) -> Vec<f64> {
        let folder = self.folder(key);
        let mut files: Vec<PathBuf> = std::fs::read_dir(&folder)
            .into_iter()
            .flatten()
            .flatten()
            .map(|e| e.path())
            .filter(|p| {
                p.extension().is_some_and(|x| x == "json")
                    && !p
                        .file_name()
                        .is_some_and(|n| n.to_string_lossy().starts_with('.'))
            })
            .collect();
        files.sort();
        let mut values = Vec::new();
        for f in files {
            match read(&f, key) {
                Ok(v) => values.extend(v),
                Err(why) => {
                    self.repaired
                        .push(format!("{}: {why}; removed", f.display()));
                    let _ = std::fs::remove_file(&f);
                }
            }
        }
        values
    }

    /// Stores `values` as this invocation's observations of `key`.
    pub fn put(&self, key: &Key, values: &[f64]) -> Result<()> {
        if values.is_empty() {
            return Ok(());
        }
        let stored = Stored {
            schema: SCHEMA.into(),
            key: key.clone(),
            values: values.to_vec(),
        };
        let bytes = serde_json::to_vec(&stored)?;
        let stem = format!("{}-{}", crate::host::utc_now().0, std::process::id());
        atomic::write_unique(&self.folder(key), &stem, "json", |_| bytes.clone())?;
        Ok(())
    }

    /// Drops everything stored under `key` (`--fresh`).
    pub fn forget(&self, key: &Key) -> Result<()> {
        atomic::remove_dir(&self.folder(key))
    }
}

fn read(file: &Path, key: &Key) -> std::result::Result<Vec<f64>, String> {
    let text = std::fs::read_to_string(file).map_err(|e| format!("unreadable ({e})"))?;
    let s: Stored = serde_json::from_str(&text).map_err(|e| format!("damaged ({e})"))?;
    if s.schema != SCHEMA || s.key != *key {
        return Err("it holds another measurement".into());
    }
    if s.values.is_empty() || s.values.iter().any(|v| !v.is_finite() || *v <= 0.0) {
        return Err("its values are not positive numbers".into());
    }
    Ok(s.values)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(probe: &str) -> Key {
        Key {
            probe: probe.into(),
            bench: "encrypt_record_1k".into(),
            instrument: "callgrind --iters 10".into(),
            tool: "valgrind-3.19.0".into(),
            machine: "aes,avx2".into(),
        }
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
        };
        std::fs::write(folder.join("0-x.json"), serde_json::to_vec(&wrong).unwrap()).unwrap();
        assert_eq!(c.get(&key("aaaa")), [5.0]);
    }
}
