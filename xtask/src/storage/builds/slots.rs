//! Worktree slots: each build checks out its commit in a slot of its own
//! outside the user's checkout, held by a lock for as long as the build
//! runs and released when dropped.

use super::*;

/// A worktree of this process's own, removed (with its lock file) when
/// dropped.
pub struct Slot {
    pub dir: PathBuf,
    pub(super) lock_path: PathBuf,
    pub(super) _lock: File,
}

impl Slot {
    /// The first slot under `base` that no other process holds.
    pub fn acquire(base: &Path) -> Result<Slot> {
        use std::os::unix::fs::MetadataExt;
        for k in 0..64 {
            // The folder may vanish between attempts (the last holder
            // removes it when it is empty).
            std::fs::create_dir_all(base)
                .with_context(|| format!("cannot create {}", base.display()))?;
            let lock_path = base.join(format!("worktree-{k}.lock"));
            let lock = File::options()
                .create(true)
                .truncate(false)
                .write(true)
                .open(&lock_path)
                .with_context(|| format!("cannot open {}", lock_path.display()))?;
            match lock.try_lock() {
                Ok(()) => {}
                Err(std::fs::TryLockError::WouldBlock) => continue,
                Err(std::fs::TryLockError::Error(e)) => {
                    return Err(e).with_context(|| format!("cannot lock {}", lock_path.display()));
                }
            }
            // The holder before us unlinks its lock file before letting go:
            // a lock on an unlinked file holds nothing, so take it only if
            // the name still leads to the file we locked.
            let same = match (std::fs::metadata(&lock_path), lock.metadata()) {
                (Ok(a), Ok(b)) => a.ino() == b.ino() && a.dev() == b.dev(),
                _ => false,
            };
            if !same {
                continue;
            }
            return Ok(Slot {
                dir: base.join(format!("worktree-{k}")),
                lock_path,
                _lock: lock,
            });
        }
        bail!(
            "64 workbench processes hold worktrees under {}: wait for some to finish",
            base.display()
        )
    }
}

impl Drop for Slot {
    /// The worktree, then the lock file while still locked, then the
    /// folder if no other slot is left in it.
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
        let _ = std::fs::remove_file(&self.lock_path);
        if let Some(base) = self.lock_path.parent() {
            let _ = std::fs::remove_dir(base);
        }
    }
}

/// Where a repository's worktree slots live: one folder per checkout
/// under the system's temporary folder.
pub fn slots_base(root: &Path) -> PathBuf {
    std::env::temp_dir().join(format!(
        "zp-workbench-{:016x}",
        fnv1a(root.to_string_lossy().as_bytes())
    ))
}
