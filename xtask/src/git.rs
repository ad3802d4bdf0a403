//! The repository, through git2 (libgit2): which commit a run measured and
//! whether the tree had changes. Read-only; nothing here touches the
//! user's checkout, index or HEAD.

use anyhow::{Context, Result};
use git2::{Repository, StatusOptions};
use std::path::Path;

/// The commit checked out at `root` and whether tracked files differ from
/// it (untracked files do not count: they are not built unless tracked).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Head {
    pub commit: String,
    pub dirty: bool,
}

pub fn head(root: &Path) -> Result<Option<Head>> {
    let repo = match Repository::discover(root) {
        Ok(r) => r,
        Err(e) if e.code() == git2::ErrorCode::NotFound => return Ok(None),
        Err(e) => {
            return Err(e)
                .with_context(|| format!("cannot open the git repository at {}", root.display()));
        }
    };
    let Ok(commit) = repo.head().and_then(|h| h.peel_to_commit()) else {
        return Ok(None); // no commit yet
    };
    let mut opts = StatusOptions::new();
    opts.include_untracked(false).include_ignored(false);
    let statuses = repo
        .statuses(Some(&mut opts))
        .context("cannot read the repository's status")?;
    Ok(Some(Head {
        commit: commit.id().to_string(),
        dirty: !statuses.is_empty(),
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn head_and_dirty_flag_of_a_temporary_repository() {
        let dir = tempfile::tempdir().unwrap();
        assert_eq!(head(dir.path()).unwrap(), None);
        let repo = Repository::init(dir.path()).unwrap();
        assert_eq!(head(dir.path()).unwrap(), None, "no commit yet");
        std::fs::write(dir.path().join("a.txt"), "one").unwrap();
        let mut index = repo.index().unwrap();
        index.add_path(Path::new("a.txt")).unwrap();
        index.write().unwrap();
        let tree = repo.find_tree(index.write_tree().unwrap()).unwrap();
        let sig = git2::Signature::now("t", "t@example.com").unwrap();
        let id = repo
            .commit(Some("HEAD"), &sig, &sig, "one", &tree, &[])
            .unwrap();
        assert_eq!(
            head(dir.path()).unwrap(),
            Some(Head {
                commit: id.to_string(),
                dirty: false
            })
        );
        std::fs::write(dir.path().join("untracked.txt"), "x").unwrap();
        assert!(!head(dir.path()).unwrap().unwrap().dirty);
        std::fs::write(dir.path().join("a.txt"), "two").unwrap();
        assert!(head(dir.path()).unwrap().unwrap().dirty);
    }
}
