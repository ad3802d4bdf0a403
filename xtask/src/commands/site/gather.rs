//! What the site shows, gathered from the store: the newest run and its
//! comparison, each benchmark's trend, the history, bisect reports and
//! flamegraphs.

use super::*;

impl Inputs {
    pub fn gather(ctx: &Ctx) -> Result<Inputs> {
        let mut notes = Vec::new();
        let (history, skipped) = history::latest(ctx);
        notes.extend(skipped.into_iter().map(|s| format!("history skipped: {s}")));
        if history.is_none() {
            notes.push(
                "no history stored: `cargo xtask history` measures every commit for the sparklines and change points".into(),
            );
        }
        let ids = ctx.store.run_ids();
        let mut runs = Vec::new();
        for id in ids.iter().skip(ids.len().saturating_sub(RUNS_SHOWN)) {
            match ctx.store.resolve(id) {
                Ok((_, r)) => runs.push(r),
                Err(e) => notes.push(format!("run skipped: {e:#}")),
            }
        }
        let last = match runs.last() {
            Some(new) => Some(last_comparison(ctx, new, &mut notes)),
            None => {
                notes.push("no runs stored: `cargo xtask bench` measures the latest values".into());
                None
            }
        };
        let flames = flames(&ctx.store.generated("flame"), &ctx.budgets.benchmarks);
        let mut bisects = Vec::new();
        for f in atomic::json_files(&ctx.store.reports(), "bisect-") {
            let stem = f
                .file_stem()
                .map(|s| s.to_string_lossy().into_owned())
                .unwrap_or_default();
            match std::fs::read_to_string(&f)
                .map_err(anyhow::Error::from)
                .and_then(|t| serde_json::from_str::<Report>(&t).map_err(Into::into))
            {
                Ok(r) if !r.commits.is_empty() => bisects.push((stem, r)),
                Ok(_) => {}
                Err(e) => notes.push(format!("bisect report {} skipped: {e}", f.display())),
            }
        }
        Ok(Inputs {
            budgets: ctx.budgets.benchmarks.clone(),
            history,
            runs,
            last,
            flames,
            bisects,
            commit_url: commit_url(&ctx.root),
            notes,
            generated: crate::host::utc_now().1,
        })
    }
}

/// The newest run compared with what `bench` compared it with (its
/// stored report names it), else with nothing.
pub(super) fn last_comparison(ctx: &Ctx, new: &Run, notes: &mut Vec<String>) -> Last {
    #[derive(serde::Deserialize)]
    struct Side {
        label: String,
        id: String,
    }
    #[derive(serde::Deserialize)]
    struct Stored {
        old: Option<Side>,
    }
    let report = ctx.store.reports().join(format!("{}.json", new.id));
    let old = std::fs::read_to_string(&report)
        .ok()
        .and_then(|t| serde_json::from_str::<Stored>(&t).ok())
        .and_then(|s| s.old)
        .and_then(|side| {
            let name = side
                .label
                .strip_prefix("baseline `")
                .and_then(|s| s.strip_suffix('`'))
                .map_or(side.id.clone(), String::from);
            match ctx.store.resolve(&name) {
                Ok((label, run)) => Some((label, run)),
                Err(e) => {
                    notes.push(format!(
                        "the last run's baseline cannot be read, so it is shown without: {e:#}"
                    ));
                    None
                }
            }
        });
    let comparison = Comparison::build(
        &ctx.budgets,
        (&format!("run {}", new.id), new),
        old.as_ref().map(|(l, r)| (l.as_str(), r)),
        None,
    );
    Last {
        comparison,
        new: new.clone(),
        old: old.map(|(_, r)| r),
    }
}

/// The newest `BENCH-….svg` and `BENCH-…-diff.svg` of each benchmark.
pub(super) fn flames(dir: &Path, budgets: &[Budget]) -> BTreeMap<String, Flames> {
    let mut files: Vec<(std::time::SystemTime, PathBuf)> = std::fs::read_dir(dir)
        .into_iter()
        .flatten()
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|x| x == "svg"))
        .filter_map(|p| Some((std::fs::metadata(&p).ok()?.modified().ok()?, p)))
        .collect();
    files.sort();
    let mut out: BTreeMap<String, Flames> = BTreeMap::new();
    for (_, p) in files {
        let stem = p
            .file_stem()
            .map(|s| s.to_string_lossy().into_owned())
            .unwrap_or_default();
        let Some(b) = budgets
            .iter()
            .find(|b| stem.starts_with(&format!("{}-", b.name)))
        else {
            continue;
        };
        let f = out.entry(b.name.clone()).or_default();
        if stem.ends_with("-diff") {
            f.diff = Some(p);
        } else {
            f.flame = Some(p);
        }
    }
    out
}

/// The commit page prefix of origin, when origin is on GitHub.
pub(super) fn commit_url(root: &Path) -> Option<String> {
    let repo = git2::Repository::discover(root).ok()?;
    let remote = repo.find_remote("origin").ok()?;
    let url = remote.url().ok()?.trim_end_matches(".git").to_string();
    let path = url
        .strip_prefix("https://github.com/")
        .or_else(|| url.strip_prefix("git@github.com:"))
        .or_else(|| url.strip_prefix("ssh://git@github.com/"))?;
    (path.split('/').count() == 2).then(|| format!("https://github.com/{path}/commit/"))
}
