//! `cargo xtask report`: a static site under `profiles/site/` that opens
//! from disk, with no server, no network and no JavaScript.
//!
//! - `index.html`: a row per benchmark: a sparkline of its history, the
//!   latest value against its budget, the latest verdict, its change
//!   points; then every change point and every stored bisect.
//! - `bench/NAME.html`: its history per metric with the change points
//!   marked and the commits linked, its stored runs against the budget
//!   line, the round medians of the last comparison as a strip plot, and
//!   its newest flamegraph and differential flamegraph.
//! - `bisect/STEM.html`: a stored bisect's path, commit against value,
//!   good-like and bad-like coloured, the step marked.
//!
//! Plots are SVG drawn by `plotters` and inlined in the pages, each in a
//! `<figure class="plot">`, which `scripts/site-check.sh` looks for when it
//! renders every page in Chromium. The site is written into a fresh folder
//! and renamed into place, so a reader never sees half of one.

use crate::budgets::{Budget, Category, Target};
use crate::model::search::{Class, Finding};
use crate::model::series::{self as history, History, Kind};
use crate::model::verdicts::Comparison;
use crate::stats::median;
use crate::storage::store::Run;
use crate::units::{fmt_ns, fmt_target, fmt_value, short};
use crate::workflows::bisect_report::Report;
use crate::{Ctx, cli::flags, storage::atomic};
use anyhow::{Context, Result, anyhow};
use plotters::coord::Shift;
use plotters::prelude::*;
use std::collections::BTreeMap;
use std::fmt::Write;
use std::path::{Path, PathBuf};
use std::time::Instant;

mod gather;
mod pages;
mod plots;

use pages::*;
use plots::*;

/// Stored runs a benchmark page plots (the newest).
const RUNS_SHOWN: usize = 60;

/// Everything the site shows, gathered from the store.
pub struct Inputs {
    pub budgets: Vec<Budget>,
    /// The newest complete history, with its file.
    pub history: Option<(PathBuf, History)>,
    /// Stored runs, oldest first (the newest [`RUNS_SHOWN`]).
    pub runs: Vec<Run>,
    /// The newest run against what it was compared with.
    pub last: Option<Last>,
    /// Per benchmark: its newest flamegraph and differential flamegraph.
    pub flames: BTreeMap<String, Flames>,
    /// Stored bisects by file stem, oldest first.
    pub bisects: Vec<(String, Report)>,
    /// `https://github.com/OWNER/REPO/commit/` when origin is on GitHub.
    pub commit_url: Option<String>,
    /// What could not be read, said on the index.
    pub notes: Vec<String>,
    pub generated: String,
}

/// The newest run's comparison, and both runs for their round medians.
pub struct Last {
    pub comparison: Comparison,
    pub new: Run,
    pub old: Option<Run>,
}

#[derive(Default, Clone)]
pub struct Flames {
    pub flame: Option<PathBuf>,
    pub diff: Option<PathBuf>,
}

/// What was written.
#[derive(Debug)]
pub struct Written {
    pub dir: PathBuf,
    pub pages: usize,
    pub plots: usize,
    pub bytes: u64,
}

impl flags::Report {
    pub fn run(&self, ctx: &Ctx) -> Result<()> {
        let started = Instant::now();
        let inputs = Inputs::gather(ctx)?;
        let dir = self
            .out
            .clone()
            .unwrap_or_else(|| ctx.store.generated("site"));
        let w = write(&inputs, &dir)?;
        for n in &inputs.notes {
            eprintln!("note: {n}");
        }
        println!(
            "report: {} pages, {} plots, {:.0} KiB, in {:.2} s",
            w.pages,
            w.plots,
            w.bytes as f64 / 1024.0,
            started.elapsed().as_secs_f64()
        );
        println!("open {}", w.dir.join("index.html").display());
        Ok(())
    }
}

/// Writes the site into `dir` (replacing what was there).
pub fn write(inputs: &Inputs, dir: &Path) -> Result<Written> {
    let parent = dir
        .parent()
        .context("the site's folder has a parent")?
        .to_path_buf();
    std::fs::create_dir_all(&parent)
        .with_context(|| format!("cannot create {}", parent.display()))?;
    let tmp = tempfile::Builder::new()
        .prefix(".site-")
        .tempdir_in(&parent)
        .with_context(|| format!("cannot create a folder in {}", parent.display()))?;
    let mut w = Written {
        dir: dir.to_path_buf(),
        pages: 0,
        plots: 0,
        bytes: 0,
    };
    let mut put = |rel: &str, bytes: &[u8], plots: usize| -> Result<()> {
        let path = tmp.path().join(rel);
        if let Some(p) = path.parent() {
            std::fs::create_dir_all(p)?;
        }
        std::fs::write(&path, bytes).with_context(|| format!("cannot write {}", path.display()))?;
        w.bytes += bytes.len() as u64;
        if rel.ends_with(".html") {
            w.pages += 1;
            w.plots += plots;
        }
        Ok(())
    };
    put("style.css", STYLE.as_bytes(), 0)?;
    let (index, plots) = index_page(inputs)?;
    put("index.html", index.as_bytes(), plots)?;
    for b in &inputs.budgets {
        let flames = inputs.flames.get(&b.name).cloned().unwrap_or_default();
        for f in [&flames.flame, &flames.diff].into_iter().flatten() {
            let name = f.file_name().context("a flamegraph file")?;
            let bytes = std::fs::read(f).with_context(|| format!("cannot read {}", f.display()))?;
            put(&format!("flame/{}", name.to_string_lossy()), &bytes, 0)?;
        }
        let (page, plots) = bench_page(inputs, b, &flames)?;
        put(&format!("bench/{}.html", b.name), page.as_bytes(), plots)?;
    }
    for (stem, r) in &inputs.bisects {
        let (page, plots) = bisect_page(inputs, stem, r)?;
        put(&format!("bisect/{stem}.html"), page.as_bytes(), plots)?;
    }
    if dir.exists() {
        atomic::remove_dir(dir)?;
    }
    let kept = tmp.keep();
    std::fs::rename(&kept, dir)
        .with_context(|| format!("cannot move the site to {}", dir.display()))?;
    Ok(w)
}

// ---- Plots ----

#[cfg(test)]
mod tests;
