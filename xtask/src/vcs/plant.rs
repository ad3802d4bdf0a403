//! Planted histories: a slowdown written into a throwaway repository as a
//! commit of its own, between harmless ones. The corpus (`corpus.rs`) and
//! the demo (`demo.rs`) plant them and check what the bisect names.

use anyhow::{Context, Result, bail};
use git2::{Oid, Repository, Signature};
use std::path::Path;

/// One planted slowdown.
#[derive(Debug, Clone, Copy)]
pub struct Plant {
    /// What kind of slowdown it is.
    pub kind: &'static str,
    /// The benchmark it slows.
    pub bench: &'static str,
    pub subject: &'static str,
    pub file: &'static str,
    /// The text it replaces (`find` must occur in `file`), and with what.
    pub find: &'static str,
    pub replace: &'static str,
    /// Every one of these must appear in the top hotspot's name. Exact
    /// hotspots name the real (not inlined) function the cost is in, so
    /// where the compiler may inline the touched function into its caller,
    /// the strings name what both have in common.
    pub touched: &'static [&'static str],
}

/// A commit of a planted history.
#[derive(Debug, Clone, Copy)]
pub enum Step {
    /// A harmless commit: `text` appended to `file`.
    Filler {
        subject: &'static str,
        file: &'static str,
        text: &'static str,
    },
    Plant(Plant),
}

/// Commits `steps` on top of HEAD in the repository at `dir`; returns the
/// commit of each step.
pub fn commit_history(repo: &Repository, dir: &Path, steps: &[Step]) -> Result<Vec<Oid>> {
    let sig = Signature::now("zp corpus", "corpus@example.invalid")?;
    let mut ids = Vec::new();
    for step in steps {
        let (subject, file) = match step {
            Step::Filler {
                subject,
                file,
                text,
            } => {
                let path = dir.join(file);
                let body = std::fs::read_to_string(&path)
                    .with_context(|| format!("cannot read {file}"))?;
                std::fs::write(&path, body + text)?;
                (*subject, *file)
            }
            Step::Plant(p) => {
                let path = dir.join(p.file);
                let body = std::fs::read_to_string(&path)
                    .with_context(|| format!("cannot read {}", p.file))?;
                if !body.contains(p.find) {
                    bail!(
                        "{} no longer contains the text the {} plant replaces; update xtask/src/commands/corpus.rs",
                        p.file,
                        p.kind
                    );
                }
                std::fs::write(&path, body.replacen(p.find, p.replace, 1))?;
                (p.subject, p.file)
            }
        };
        let mut index = repo.index()?;
        index.add_path(Path::new(file))?;
        index.write()?;
        let tree = repo.find_tree(index.write_tree()?)?;
        let parent = repo.head()?.peel_to_commit()?;
        ids.push(repo.commit(Some("HEAD"), &sig, &sig, subject, &tree, &[&parent])?);
    }
    Ok(ids)
}
