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

    /// CI checkouts are often shallow: a revision beyond the cut is named
    /// as such, with the command that fetches the rest.
    #[test]
    fn a_shallow_history_says_how_to_fetch_the_rest() {
        let dir = tempfile::tempdir().unwrap();
        let full = dir.path().join("full");
        let repo = Repository::init(&full).unwrap();
        let sig = git2::Signature::now("t", "t@example.com").unwrap();
        let mut parent: Option<git2::Oid> = None;
        for i in 0..4 {
            std::fs::write(full.join("a.txt"), format!("{i}")).unwrap();
            let mut index = repo.index().unwrap();
            index.add_path(Path::new("a.txt")).unwrap();
            index.write().unwrap();
            let tree = repo.find_tree(index.write_tree().unwrap()).unwrap();
            let parents: Vec<git2::Commit> = parent
                .map(|p| repo.find_commit(p).unwrap())
                .into_iter()
                .collect();
            let parents: Vec<&git2::Commit> = parents.iter().collect();
            parent = Some(
                repo.commit(Some("HEAD"), &sig, &sig, "c", &tree, &parents)
                    .unwrap(),
            );
        }
        let shallow = dir.path().join("shallow");
        let status = std::process::Command::new("git")
            .args(["clone", "--quiet", "--depth", "2"])
            .arg(format!("file://{}", full.display()))
            .arg(&shallow)
            .status()
            .unwrap();
        assert!(status.success());
        let repo = open(&shallow).unwrap();
        assert!(repo.is_shallow());
        let err = resolve(&repo, "HEAD~3").unwrap_err();
        assert!(err.is::<crate::Usage>(), "{err}");
        assert!(
            err.to_string().contains("the history is shallow")
                && err.to_string().contains("git fetch --unshallow"),
            "{err}"
        );
        assert!(resolve(&repo, "HEAD~1").is_ok());
    }
}

/// A commit as the bisect report shows it.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct CommitInfo {
    pub id: String,
    pub subject: String,
    pub author: String,
    /// RFC 3339, UTC.
    pub date: String,
    /// Paths it changed that can change a benchmark (see [`relevant`]).
    pub relevant_files: Vec<String>,
}

/// Paths whose change can change what a benchmark measures: the zp crate
/// (its benchmark harness included), the probe's protocol crate, the
/// workspace manifest and lockfile, vendored crates, cargo's configuration
/// and the toolchain file. Anything else (docs, xtask, scripts) cannot, so
/// commits touching only those are skipped.
pub fn relevant(path: &str) -> bool {
    path.starts_with("zp/")
        || path.starts_with("probe-protocol/")
        || path.starts_with("vendor/")
        || path.starts_with(".cargo/")
        || matches!(
            path,
            "Cargo.toml" | "Cargo.lock" | "rust-toolchain" | "rust-toolchain.toml"
        )
}

/// Paths of the measuring harness rather than of zp: a change there moves
/// what the probe measures without zp being any faster or slower.
pub fn harness(path: &str) -> bool {
    path.starts_with("zp/benches/") || path.starts_with("probe-protocol/")
}

/// Bad input about revisions (exit code 2, like other usage errors).
fn usage(msg: String) -> anyhow::Error {
    crate::Usage(msg).into()
}

pub fn open(root: &Path) -> Result<Repository> {
    Repository::discover(root).map_err(|e| {
        usage(format!(
            "{} is not inside a git repository: {}",
            root.display(),
            e.message()
        ))
    })
}

pub fn resolve(repo: &Repository, rev: &str) -> Result<git2::Oid> {
    let obj = repo.revparse_single(rev).map_err(|_| {
        usage(if repo.is_shallow() {
            format!(
                "unknown revision `{rev}`: the history is shallow (a clone with --depth, as CI checkouts often are), so older commits are not here; `git fetch --unshallow` fetches them"
            )
        } else {
            format!("unknown revision `{rev}`")
        })
    })?;
    let commit = obj
        .peel_to_commit()
        .map_err(|_| usage(format!("`{rev}` is not a commit")))?;
    Ok(commit.id())
}

/// The commits a bisect from `good` to `bad` considers: `good`, then the
/// first-parent commits after it up to `bad` that touch a relevant path,
/// and `bad` itself. Also returns how many commits were left out as
/// irrelevant.
pub fn candidates(
    repo: &Repository,
    good: git2::Oid,
    bad: git2::Oid,
) -> Result<(Vec<CommitInfo>, usize)> {
    if good == bad {
        return Err(usage(format!(
            "--good and --bad are the same commit {}",
            short(&good)
        )));
    }
    if repo.graph_descendant_of(good, bad)? {
        return Err(usage(format!(
            "the revisions are reversed: --good {} is newer than --bad {}",
            short(&good),
            short(&bad)
        )));
    }
    if !repo.graph_descendant_of(bad, good)? {
        return Err(usage(format!(
            "--good {} is not an ancestor of --bad {}",
            short(&good),
            short(&bad)
        )));
    }
    let mut chain = Vec::new();
    let mut at = repo.find_commit(bad)?;
    while at.id() != good {
        chain.push(at.id());
        at = match at.parent(0) {
            Ok(p) => p,
            Err(_) if repo.is_shallow() => {
                return Err(usage(format!(
                    "the history between {} and {} is shallow (a clone with --depth): `git fetch --unshallow` fetches the missing commits",
                    short(&good),
                    short(&bad)
                )));
            }
            Err(_) => {
                return Err(usage(format!(
                    "--good {} is not on the first-parent history of --bad {} (it was merged in from a side branch); pass the merge's first parent instead",
                    short(&good),
                    short(&bad)
                )));
            }
        };
    }
    chain.reverse();
    let mut out = vec![info(repo, good)?];
    let mut irrelevant = 0;
    for (k, id) in chain.iter().enumerate() {
        let c = info(repo, *id)?;
        if c.relevant_files.is_empty() && k + 1 < chain.len() {
            irrelevant += 1;
        } else {
            out.push(c);
        }
    }
    if out.len() == 2 && out[1].relevant_files.is_empty() {
        return Err(usage(format!(
            "no commit between {} and {} touches zp/, probe-protocol/, the manifests, vendor/ or the toolchain: nothing there can change a benchmark",
            short(&good),
            short(&bad)
        )));
    }
    Ok((out, irrelevant))
}

/// The commits a history measures: the first-parent commits up to `head`
/// that touch a relevant path, oldest first, from `since` (included,
/// whatever it touches) or else from the last `last` relevant ones, or else
/// from the root (or the oldest commit of a shallow clone, with a note).
/// Also returns how many commits were left out as irrelevant, and notes.
pub fn history(
    repo: &Repository,
    head: git2::Oid,
    since: Option<git2::Oid>,
    last: Option<usize>,
) -> Result<(Vec<CommitInfo>, usize, Vec<String>)> {
    if let Some(s) = since {
        if s == head {
            return Err(usage(format!(
                "--since {} is the head itself: nothing after it to measure",
                short(&s)
            )));
        }
        if !repo.graph_descendant_of(head, s)? {
            return Err(usage(format!(
                "--since {} is not an ancestor of {}",
                short(&s),
                short(&head)
            )));
        }
    }
    let mut out = Vec::new();
    let mut notes = Vec::new();
    let mut irrelevant = 0;
    let mut at = repo.find_commit(head)?;
    loop {
        let c = info(repo, at.id())?;
        let reached_since = since == Some(at.id());
        if reached_since || !c.relevant_files.is_empty() {
            out.push(c);
        } else {
            irrelevant += 1;
        }
        if reached_since || last.is_some_and(|n| out.len() >= n) {
            break;
        }
        at = match at.parent(0) {
            Ok(p) => p,
            Err(_) if repo.is_shallow() => {
                if let Some(s) = since {
                    return Err(usage(format!(
                        "the history back to --since {} is shallow (a clone with --depth): `git fetch --unshallow` fetches the missing commits",
                        short(&s)
                    )));
                }
                notes.push(format!(
                    "the history is shallow: it starts at {}; `git fetch --unshallow` fetches the rest",
                    short(&at.id())
                ));
                break;
            }
            Err(_) => {
                if let Some(s) = since {
                    return Err(usage(format!(
                        "--since {} is not on the first-parent history of {} (it was merged in from a side branch); pass the merge's first parent instead",
                        short(&s),
                        short(&head)
                    )));
                }
                break;
            }
        };
    }
    out.reverse();
    if out.is_empty() {
        return Err(usage(format!(
            "no commit up to {} touches zp/, probe-protocol/, the manifests, vendor/ or the toolchain: nothing there can change a benchmark",
            short(&head)
        )));
    }
    Ok((out, irrelevant, notes))
}

fn short(id: &git2::Oid) -> String {
    id.to_string()[..10].to_string()
}

pub fn info(repo: &Repository, id: git2::Oid) -> Result<CommitInfo> {
    let c = repo.find_commit(id)?;
    let tree = c.tree()?;
    let parent_tree = c.parent(0).ok().map(|p| p.tree()).transpose()?;
    let diff = repo.diff_tree_to_tree(parent_tree.as_ref(), Some(&tree), None)?;
    let mut files: Vec<String> = diff
        .deltas()
        .flat_map(|d| [d.old_file().path(), d.new_file().path()])
        .flatten()
        .filter_map(|p| p.to_str().map(String::from))
        .filter(|p| relevant(p))
        .collect();
    files.sort();
    files.dedup();
    let secs = u64::try_from(c.author().when().seconds()).unwrap_or(0);
    Ok(CommitInfo {
        id: id.to_string(),
        subject: c.summary().ok().flatten().unwrap_or("").to_string(),
        author: c.author().name().unwrap_or("?").to_string(),
        date: crate::host::utc(secs).1,
        relevant_files: files,
    })
}

/// Writes the tree of commit `id` into `dir`, outside the user's checkout:
/// HEAD, the index and the working tree of the repository are never
/// touched. Files whose content is already right are left alone, so cargo
/// does not rebuild what did not change; files the commit lacks are
/// removed.
pub fn materialize(repo: &Repository, id: git2::Oid, dir: &Path) -> Result<()> {
    let tree = repo.find_commit(id)?.tree()?;
    std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    let mut wanted = std::collections::BTreeSet::new();
    let mut failure: Option<anyhow::Error> = None;
    tree.walk(git2::TreeWalkMode::PreOrder, |parent, entry| {
        if entry.kind() != Some(git2::ObjectType::Blob) {
            return git2::TreeWalkResult::Ok;
        }
        let rel = format!("{parent}{}", entry.name().unwrap_or(""));
        let path = dir.join(&rel);
        let result = (|| -> Result<()> {
            let blob = repo.find_blob(entry.id())?;
            if let Some(p) = path.parent() {
                std::fs::create_dir_all(p)?;
            }
            if entry.filemode() == 0o120000 {
                let target = std::str::from_utf8(blob.content())?;
                let _ = std::fs::remove_file(&path);
                #[cfg(unix)]
                std::os::unix::fs::symlink(target, &path)?;
                return Ok(());
            }
            if std::fs::read(&path).ok().as_deref() != Some(blob.content()) {
                let _ = std::fs::remove_file(&path);
                std::fs::write(&path, blob.content())?;
            }
            #[cfg(unix)]
            {
                use std::os::unix::fs::PermissionsExt;
                let mode = if entry.filemode() == 0o100755 {
                    0o755
                } else {
                    0o644
                };
                std::fs::set_permissions(&path, std::fs::Permissions::from_mode(mode))?;
            }
            Ok(())
        })();
        match result {
            Ok(()) => {
                wanted.insert(path);
                git2::TreeWalkResult::Ok
            }
            Err(e) => {
                failure = Some(e.context(format!("cannot write {rel}")));
                git2::TreeWalkResult::Abort
            }
        }
    })?;
    if let Some(e) = failure {
        return Err(e);
    }
    remove_unwanted(dir, &wanted)?;
    Ok(())
}

fn remove_unwanted(
    dir: &Path,
    wanted: &std::collections::BTreeSet<std::path::PathBuf>,
) -> Result<()> {
    for entry in std::fs::read_dir(dir)? {
        let path = entry?.path();
        let meta = std::fs::symlink_metadata(&path)?;
        if meta.is_dir() {
            remove_unwanted(&path, wanted)?;
            if std::fs::read_dir(&path)?.next().is_none() {
                std::fs::remove_dir(&path)?;
            }
        } else if !wanted.contains(&path) {
            std::fs::remove_file(&path)?;
        }
    }
    Ok(())
}
