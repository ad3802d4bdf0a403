//! Files that a reader never sees half-written, whatever happens to the
//! writer (Ctrl-C, a full disk, a second process writing the same file):
//! each is written to a temporary file in its own folder, then renamed
//! into place, which POSIX makes atomic. A temporary file left by a
//! killed process is never read: readers only open final names.

use anyhow::{Context, Result};
use std::io::Write;
use std::path::{Path, PathBuf};

fn temp_in(path: &Path, bytes: &[u8]) -> Result<tempfile::NamedTempFile> {
    let dir = path.parent().context("a file in a folder")?;
    std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    let mut tmp = tempfile::Builder::new()
        .prefix(".tmp-")
        .tempfile_in(dir)
        .with_context(|| format!("cannot create a temporary file in {}", dir.display()))?;
    tmp.write_all(bytes)
        .and_then(|()| tmp.as_file().sync_data())
        .with_context(|| format!("cannot write {}", path.display()))?;
    Ok(tmp)
}

/// Writes `bytes` to `path`, replacing what was there.
pub fn write(path: &Path, bytes: &[u8]) -> Result<()> {
    temp_in(path, bytes)?
        .persist(path)
        .map_err(|e| e.error)
        .with_context(|| format!("cannot write {}", path.display()))?;
    Ok(())
}

/// Writes `bytes` to `path` only if nothing is there yet: `Ok(false)` when
/// another writer got there first (the existing file is left alone).
pub fn write_new(path: &Path, bytes: &[u8]) -> Result<bool> {
    match temp_in(path, bytes)?.persist_noclobber(path) {
        Ok(_) => Ok(true),
        Err(e) if e.error.kind() == std::io::ErrorKind::AlreadyExists => Ok(false),
        Err(e) => Err(e.error).with_context(|| format!("cannot write {}", path.display())),
    }
}

/// Writes `bytes` under the first free name `stem`, `stem-2`, `stem-3`, …
/// (plus `ext`) in `dir`, and returns the stem it took: two writers in the
/// same second still get distinct names.
pub fn write_unique(
    dir: &Path,
    stem: &str,
    ext: &str,
    mut bytes: impl FnMut(&str) -> Vec<u8>,
) -> Result<String> {
    for n in 1..10_000 {
        let name = if n == 1 {
            stem.to_string()
        } else {
            format!("{stem}-{n}")
        };
        if write_new(&dir.join(format!("{name}.{ext}")), &bytes(&name))? {
            return Ok(name);
        }
    }
    anyhow::bail!("no free name for {stem} in {}", dir.display())
}

/// The finished JSON files in `dir` whose names start with `prefix`,
/// sorted by name without the extension (`x` before `x-2`): never the
/// temporary file of a write in progress (its name starts with a dot).
/// Empty when the folder does not exist.
pub fn json_files(dir: &Path, prefix: &str) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .into_iter()
        .flatten()
        .flatten()
        .map(|e| e.path())
        .filter(|p| {
            p.extension().is_some_and(|x| x == "json")
                && p.file_name()
                    .and_then(|n| n.to_str())
                    .is_some_and(|n| !n.starts_with('.') && n.starts_with(prefix))
        })
        .collect();
    files.sort_by(|a, b| a.file_stem().cmp(&b.file_stem()));
    files
}

/// Removes a folder so that it disappears at once (renamed aside, then
/// deleted): a reader sees the whole folder or none of it.
pub fn remove_dir(dir: &Path) -> Result<()> {
    let Some(parent) = dir.parent() else {
        return Ok(());
    };
    let aside: PathBuf = parent.join(format!(
        ".trash-{}-{}",
        std::process::id(),
        dir.file_name()
            .map_or_else(String::new, |n| n.to_string_lossy().into_owned())
    ));
    match std::fs::rename(dir, &aside) {
        Ok(()) => std::fs::remove_dir_all(&aside)
            .with_context(|| format!("cannot remove {}", aside.display())),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(e).with_context(|| format!("cannot remove {}", dir.display())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn writes_replace_new_writes_do_not_and_unique_names_count_up() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("sub/a.json");
        write(&p, b"one").unwrap();
        write(&p, b"two").unwrap();
        assert_eq!(std::fs::read(&p).unwrap(), b"two");
        assert!(!write_new(&p, b"three").unwrap());
        assert_eq!(std::fs::read(&p).unwrap(), b"two");
        let names: Vec<String> = (0..3)
            .map(|_| write_unique(dir.path(), "run", "json", |n| n.as_bytes().to_vec()).unwrap())
            .collect();
        assert_eq!(names, ["run", "run-2", "run-3"]);
        assert_eq!(
            std::fs::read(dir.path().join("run-2.json")).unwrap(),
            b"run-2"
        );
        // No temporary file is left behind.
        let leftovers: Vec<_> = std::fs::read_dir(dir.path().join("sub"))
            .unwrap()
            .flatten()
            .filter(|e| e.file_name().to_string_lossy().starts_with(".tmp-"))
            .collect();
        assert!(leftovers.is_empty());
        let sub = dir.path().join("sub");
        remove_dir(&sub).unwrap();
        assert!(!sub.exists());
        remove_dir(&sub).unwrap();
    }
}
