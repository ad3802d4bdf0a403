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

use crate::bisect_report::Report;
use crate::budgets::{Budget, Category, Target};
use crate::history::{self, History, Kind};
use crate::search::{Class, Finding};
use crate::stats::median;
use crate::store::Run;
use crate::verdicts::{Comparison, fmt_ns, fmt_target, fmt_value, short};
use crate::{Ctx, atomic, flags};
use anyhow::{Context, Result, anyhow};
use plotters::coord::Shift;
use plotters::prelude::*;
use std::collections::BTreeMap;
use std::fmt::Write;
use std::path::{Path, PathBuf};
use std::time::Instant;

/// Stored runs a benchmark page plots (the newest).
const RUNS_SHOWN: usize = 60;

const BLUE: RGBColor = RGBColor(31, 119, 180);
const RED: RGBColor = RGBColor(214, 39, 40);
const GREEN: RGBColor = RGBColor(44, 160, 44);
const GREY: RGBColor = RGBColor(150, 150, 150);
const ORANGE: RGBColor = RGBColor(230, 120, 0);

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
fn last_comparison(ctx: &Ctx, new: &Run, notes: &mut Vec<String>) -> Last {
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
fn flames(dir: &Path, budgets: &[Budget]) -> BTreeMap<String, Flames> {
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
fn commit_url(root: &Path) -> Option<String> {
    let repo = git2::Repository::discover(root).ok()?;
    let remote = repo.find_remote("origin").ok()?;
    let url = remote.url().ok()?.trim_end_matches(".git").to_string();
    let path = url
        .strip_prefix("https://github.com/")
        .or_else(|| url.strip_prefix("git@github.com:"))
        .or_else(|| url.strip_prefix("ssh://git@github.com/"))?;
    (path.split('/').count() == 2).then(|| format!("https://github.com/{path}/commit/"))
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

const STYLE: &str = r#"body { font: 15px/1.45 system-ui, sans-serif; margin: 0 auto; max-width: 1100px; padding: 1em 2em; color: #222; }
h1 { font-size: 1.6em; margin-bottom: 0.2em; } h2 { margin-top: 1.6em; border-bottom: 1px solid #ddd; }
nav { font-size: 0.9em; margin-bottom: 1em; } .meta { color: #666; font-size: 0.9em; }
table { border-collapse: collapse; width: 100%; font-size: 0.92em; }
th, td { text-align: left; padding: 0.3em 0.6em; border-bottom: 1px solid #eee; vertical-align: middle; }
td.num { text-align: right; font-variant-numeric: tabular-nums; white-space: nowrap; }
code { font-size: 0.9em; background: #f4f4f4; padding: 0.1em 0.3em; border-radius: 3px; }
figure.plot { margin: 0.6em 0; } figure.plot svg { max-width: 100%; height: auto; }
td figure.plot { margin: 0; } figcaption { color: #555; font-size: 0.88em; }
.verdict { font-weight: 600; padding: 0.1em 0.5em; border-radius: 3px; font-size: 0.85em; }
.REGRESSION { background: #fbd5d5; color: #9b1c1c; } .WARNING { background: #feecdc; color: #8a2c0d; }
.IMPROVEMENT { background: #def7ec; color: #03543f; } .PASS { background: #eef; color: #334; }
.INCONCLUSIVE { background: #f3f3f3; color: #555; }
.bar { display: inline-block; height: 0.6em; background: #7aa6d6; vertical-align: middle; margin-left: 0.4em; }
.bar.over { background: #d66; }
.slower { color: #b91c1c; } .faster { color: #047857; }
object.flame { width: 100%; min-height: 420px; border: 1px solid #ddd; }
"#;

fn esc(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// A whole page; `up` is the way back to the site's root ("" or "../").
fn page(title: &str, up: &str, plots: usize, body: &str) -> String {
    format!(
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n<title>{}</title>\n<link rel=\"stylesheet\" href=\"{up}style.css\">\n</head>\n<body data-plots=\"{plots}\">\n<nav><a href=\"{up}index.html\">zp performance</a></nav>\n{body}\n</body>\n</html>\n",
        esc(title)
    )
}

/// A plot in its figure (the browser check counts these).
fn figure(name: &str, svg: &str, caption: &str) -> String {
    let caption = if caption.is_empty() {
        String::new()
    } else {
        format!("<figcaption>{caption}</figcaption>")
    };
    format!(
        "<figure class=\"plot\" data-plot=\"{}\">{svg}{caption}</figure>",
        esc(name)
    )
}

fn commit_link(inputs: &Inputs, id: &str) -> String {
    match &inputs.commit_url {
        Some(u) => format!("<a href=\"{u}{id}\"><code>{}</code></a>", short(id)),
        None => format!("<code title=\"{id}\">{}</code>", short(id)),
    }
}

fn verdict_badge(v: Option<crate::stats::Verdict>) -> String {
    match v {
        Some(v) => format!("<span class=\"verdict {v}\">{v}</span>"),
        None => "<span class=\"meta\">no baseline</span>".into(),
    }
}

/// A series for a sparkline, with its change points (index, improvement).
struct Trend {
    kind: Kind,
    values: Vec<Option<f64>>,
    changes: Vec<(usize, bool)>,
}

/// The series a sparkline shows: the history's instruction counts, else
/// its time or sizes, else the stored runs' medians.
fn trend(inputs: &Inputs, b: &Budget) -> Option<Trend> {
    if let Some((_, h)) = &inputs.history {
        for kind in [Kind::Instructions, Kind::Bytes, Kind::Time] {
            if let Some(s) = h.series(&b.name, kind)
                && s.iter().any(Option::is_some)
            {
                let changes = h
                    .changes
                    .iter()
                    .filter(|c| c.bench == b.name && c.kind == kind && c.decided())
                    .map(|c| (c.at, c.improvement()))
                    .collect();
                return Some(Trend {
                    kind,
                    values: s.to_vec(),
                    changes,
                });
            }
        }
    }
    let values = run_values(inputs, b);
    (!values.is_empty()).then(|| {
        let kind = if b.category == Category::Memory {
            Kind::Bytes
        } else {
            Kind::Time
        };
        Trend {
            kind,
            values: values.iter().map(|(_, v)| Some(*v)).collect(),
            changes: Vec::new(),
        }
    })
}

/// The headline of `b` in every stored run that has it: (run id, value).
fn run_values(inputs: &Inputs, b: &Budget) -> Vec<(String, f64)> {
    inputs
        .runs
        .iter()
        .filter_map(|r| Some((r.id.clone(), r.headline(&b.name)?)))
        .collect()
}

fn index_page(inputs: &Inputs) -> Result<(String, usize)> {
    let mut body = String::new();
    let mut plots = 0;
    let _ = writeln!(body, "<h1>zp performance</h1>");
    let _ = write!(
        body,
        "<p class=\"meta\">Generated {}",
        esc(&inputs.generated)
    );
    if let Some((path, h)) = &inputs.history {
        let n = h.commits.len();
        let _ = write!(
            body,
            " · history of {n} commits, {} to {} ({}; {} change points; <code>{}</code>)",
            commit_link(inputs, &h.commits[0].commit.id),
            commit_link(inputs, &h.commits[n - 1].commit.id),
            h.kinds
                .iter()
                .map(|k| k.name())
                .collect::<Vec<_>>()
                .join(" and "),
            h.changes.len(),
            esc(&path.file_name().unwrap_or_default().to_string_lossy())
        );
    }
    if let Some(l) = &inputs.last {
        let c = &l.comparison;
        let _ = write!(body, " · latest run <code>{}</code>", esc(&c.new.id));
        if let Some(o) = &c.old {
            let _ = write!(body, " against {}", esc(&o.label));
        }
    }
    body.push_str("</p>\n");
    for n in &inputs.notes {
        let _ = writeln!(body, "<p class=\"meta\">Note: {}</p>", esc(n));
    }
    body.push_str("<table>\n<tr><th>benchmark</th><th>category</th><th>history</th><th>latest</th><th>budget</th><th>verdict</th><th>changes</th></tr>\n");
    for b in &inputs.budgets {
        let row = inputs
            .last
            .as_ref()
            .and_then(|l| l.comparison.rows.iter().find(|r| r.name == b.name));
        let spark = match trend(inputs, b) {
            Some(Trend {
                kind,
                values,
                changes,
            }) => {
                plots += 1;
                figure(
                    &format!("sparkline-{}", b.name),
                    &sparkline_svg(&values, &changes)?,
                    "",
                )
                .replace(
                    "</figure>",
                    &format!("<span class=\"meta\">{}</span></figure>", kind.unit()),
                )
            }
            None => "<span class=\"meta\">no data</span>".into(),
        };
        let (latest, budget) = match row {
            Some(r) => {
                let v = r.new.headline();
                let frac = r.budget.fraction.unwrap_or(0.0);
                (
                    v.map_or("—".into(), |v| fmt_value(v, b.category)),
                    format!(
                        "{} {:.0}%<span class=\"bar{}\" style=\"width:{:.0}px\"></span>",
                        esc(&fmt_target(b.target)),
                        frac * 100.0,
                        if r.budget.over { " over" } else { "" },
                        (frac.min(1.5) * 60.0).max(1.0)
                    ),
                )
            }
            None => ("—".into(), esc(&fmt_target(b.target))),
        };
        let changes: Vec<String> = inputs
            .history
            .iter()
            .flat_map(|(_, h)| h.changes.iter().filter(|c| c.bench == b.name))
            .map(|c| {
                format!(
                    "<span class=\"{}\">{:+.1}%{}</span> at {}",
                    match (c.decided(), c.improvement()) {
                        (false, _) => "undecided",
                        (true, true) => "faster",
                        (true, false) => "slower",
                    },
                    (c.point.ratio - 1.0) * 100.0,
                    if c.decided() {
                        ""
                    } else {
                        " (cannot decide yet)"
                    },
                    commit_link(inputs, &c.commit)
                )
            })
            .collect();
        let _ = writeln!(
            body,
            "<tr><td><a href=\"bench/{name}.html\">{name}</a></td><td>{}</td><td>{spark}</td><td class=\"num\">{latest}</td><td class=\"num\">{budget}</td><td>{}</td><td>{}</td></tr>",
            b.category,
            verdict_badge(row.and_then(|r| r.decision.map(|d| d.verdict))),
            if changes.is_empty() {
                "—".into()
            } else {
                changes.join("<br>")
            },
            name = esc(&b.name),
        );
    }
    body.push_str("</table>\n");
    if let Some((_, h)) = &inputs.history {
        let _ = writeln!(body, "<h2>Change points ({})</h2>", h.changes.len());
        body.push_str(&changes_table(inputs, h, None));
    }
    let _ = writeln!(body, "<h2>Bisects ({})</h2>", inputs.bisects.len());
    if inputs.bisects.is_empty() {
        body.push_str("<p class=\"meta\">None stored: <code>cargo xtask bisect BENCH</code> finds the commit that made BENCH slower.</p>\n");
    } else {
        body.push_str("<ul>\n");
        for (stem, r) in inputs.bisects.iter().rev() {
            let _ = writeln!(
                body,
                "<li><a href=\"bisect/{}.html\">{}</a>: {}</li>",
                esc(stem),
                esc(&r.bench),
                esc(&r.headline())
            );
        }
        body.push_str("</ul>\n");
    }
    Ok((page("zp performance", "", plots, &body), plots))
}

/// The change points of the history (of one benchmark when `bench`).
fn changes_table(inputs: &Inputs, h: &History, bench: Option<&str>) -> String {
    let picked: Vec<&history::Change> = h
        .changes
        .iter()
        .filter(|c| bench.is_none_or(|b| c.bench == b))
        .collect();
    if picked.is_empty() {
        return "<p class=\"meta\">No change points.</p>\n".into();
    }
    let mut out = String::from(
        "<table>\n<tr><th>commit</th><th>benchmark</th><th>metric</th><th>change</th><th>95% interval</th><th>subject</th><th>explain</th></tr>\n",
    );
    for c in picked {
        let p = &h.commits[c.at].commit;
        let mut explain: Vec<String> = c
            .commands
            .iter()
            .map(|cmd| format!("<code>{}</code>", esc(cmd)))
            .collect();
        if c.harness_only {
            explain.insert(
                0,
                "<em>Only the benchmark harness changed here: the measurement moved, not zp.</em>"
                    .into(),
            );
        }
        if let Some(e) = &c.explained {
            explain.push(esc(&e.summary));
            for hs in e.hotspots.iter().take(3) {
                explain.push(format!(
                    "{:+.1}% {} ({:.1}% → {:.1}%)",
                    hs.growth_pct,
                    esc(&hs.function),
                    hs.before_pct,
                    hs.after_pct
                ));
            }
        }
        let _ = writeln!(
            out,
            "<tr><td>{}</td><td><a href=\"{}bench/{b}.html\">{b}</a></td><td>{}</td><td class=\"num {}\">{:+.1}%</td><td class=\"num\">{}</td><td>{}</td><td>{}</td></tr>",
            commit_link(inputs, &c.commit),
            if bench.is_some() { "../" } else { "" },
            c.kind.name(),
            if c.improvement() { "faster" } else { "slower" },
            (c.point.ratio - 1.0) * 100.0,
            if c.kind.exact() {
                "exact".to_string()
            } else {
                format!(
                    "{:+.1}% … {:+.1}%",
                    (c.point.low - 1.0) * 100.0,
                    (c.point.high - 1.0) * 100.0
                )
            },
            esc(&p.subject),
            explain.join("<br>"),
            b = esc(&c.bench),
        );
    }
    out.push_str("</table>\n");
    out
}

fn bench_page(inputs: &Inputs, b: &Budget, flames: &Flames) -> Result<(String, usize)> {
    let mut body = String::new();
    let mut plots = 0;
    let _ = writeln!(body, "<h1>{}</h1>", esc(&b.name));
    let _ = writeln!(
        body,
        "<p>{} · {} · budget {}</p>",
        esc(&b.description),
        b.category,
        esc(&fmt_target(b.target))
    );
    let budget = match b.target {
        Target::Nanos(ns) => (Kind::Time, ns),
        Target::Bytes(by) => (Kind::Bytes, by as f64),
    };
    body.push_str("<h2>History</h2>\n");
    match &inputs.history {
        Some((_, h)) => {
            let labels: Vec<String> = h
                .commits
                .iter()
                .map(|p| short(&p.commit.id).to_string())
                .collect();
            let mut any = false;
            for kind in [Kind::Instructions, Kind::Time, Kind::Bytes] {
                let Some(values) = h.series(&b.name, kind) else {
                    continue;
                };
                if values.iter().all(Option::is_none) {
                    continue;
                }
                any = true;
                let changes: Vec<(usize, bool)> = h
                    .changes
                    .iter()
                    .filter(|c| c.bench == b.name && c.kind == kind)
                    .map(|c| (c.at, c.improvement()))
                    .collect();
                let svg = series_svg(&SeriesPlot {
                    title: &format!("{} per commit", kind.unit()),
                    x_desc: "commit, oldest → newest",
                    kind,
                    values,
                    labels: &labels,
                    changes: &changes,
                    budget: (budget.0 == kind).then_some(budget.1),
                })?;
                plots += 1;
                body.push_str(&figure(
                    &format!("history-{}", kind.name()),
                    &svg,
                    &format!(
                        "Every relevant commit, oldest left; change points as vertical lines (red slower, green faster){}.",
                        if budget.0 == kind { "; the budget dashed" } else { "" }
                    ),
                ));
            }
            if !any {
                body.push_str("<p class=\"meta\">Not in the stored history.</p>\n");
            }
            body.push_str(&changes_table(inputs, h, Some(&b.name)));
            body.push_str("<details><summary>Every commit</summary>\n<table>\n<tr><th>#</th><th>commit</th><th>date</th><th>subject</th>");
            let kinds: Vec<Kind> = [Kind::Instructions, Kind::Time, Kind::Bytes]
                .into_iter()
                .filter(|k| h.series(&b.name, *k).is_some())
                .collect();
            for k in &kinds {
                let _ = write!(body, "<th>{}</th>", k.unit());
            }
            body.push_str("</tr>\n");
            for (i, p) in h.commits.iter().enumerate() {
                let _ = write!(
                    body,
                    "<tr><td class=\"num\">{}</td><td>{}</td><td>{}</td><td>{}</td>",
                    i + 1,
                    commit_link(inputs, &p.commit.id),
                    esc(&p.commit.date[..p.commit.date.len().min(10)]),
                    esc(&p.commit.subject)
                );
                for k in &kinds {
                    let v = h.series(&b.name, *k).and_then(|s| s[i]);
                    let _ = write!(
                        body,
                        "<td class=\"num\">{}</td>",
                        match (v, &p.skipped) {
                            (Some(v), _) => k.format(v),
                            (None, Some(why)) =>
                                format!("<span title=\"{}\">skipped</span>", esc(why)),
                            (None, None) => "—".into(),
                        }
                    );
                }
                body.push_str("</tr>\n");
            }
            body.push_str("</table>\n</details>\n");
        }
        None => body.push_str(
            "<p class=\"meta\">No history stored: <code>cargo xtask history</code>.</p>\n",
        ),
    }

    body.push_str("<h2>Stored runs</h2>\n");
    let runs = run_values(inputs, b);
    if runs.is_empty() {
        body.push_str(
            "<p class=\"meta\">No stored run has it: <code>cargo xtask bench</code>.</p>\n",
        );
    } else {
        let labels: Vec<String> = runs
            .iter()
            .map(|(id, _)| id.chars().take(15).collect())
            .collect();
        let values: Vec<Option<f64>> = runs.iter().map(|(_, v)| Some(*v)).collect();
        let svg = series_svg(&SeriesPlot {
            title: &format!("{} per stored run", budget.0.unit()),
            x_desc: "stored run, oldest → newest",
            kind: budget.0,
            values: &values,
            labels: &labels,
            changes: &[],
            budget: Some(budget.1),
        })?;
        plots += 1;
        body.push_str(&figure(
            "runs",
            &svg,
            "The headline of every stored run (median time or size), oldest left, with the budget dashed.",
        ));
    }

    if let Some(l) = &inputs.last
        && let Some(new) = l.new.benchmarks.get(&b.name).and_then(|m| m.time.as_ref())
    {
        body.push_str("<h2>Last comparison</h2>\n");
        let old = l
            .old
            .as_ref()
            .and_then(|o| o.benchmarks.get(&b.name))
            .and_then(|m| m.time.as_ref());
        let row = l.comparison.rows.iter().find(|r| r.name == b.name);
        let old_label = l
            .comparison
            .old
            .as_ref()
            .map_or("—".to_string(), |o| o.label.clone());
        let svg = strip_svg(
            old.map(|t| t.round_medians.as_slice()).unwrap_or(&[]),
            &new.round_medians,
            &old_label,
            &format!("run {}", l.new.id),
        )?;
        plots += 1;
        body.push_str(&figure(
            "strip",
            &svg,
            &format!(
                "Round medians of each side (each dot one round; the bar their median). Verdict: {}{}",
                verdict_badge(row.and_then(|r| r.decision.map(|d| d.verdict))),
                row.and_then(|r| r.decision).map_or(String::new(), |d| format!(
                    " ({:+.1}%{})",
                    d.change() * 100.0,
                    d.interval_text()
                        .map_or(String::new(), |i| format!(", {i}"))
                ))
            ),
        ));
    }

    body.push_str("<h2>Flamegraphs</h2>\n");
    if flames.flame.is_none() && flames.diff.is_none() {
        let _ = writeln!(
            body,
            "<p class=\"meta\">None stored: <code>cargo xtask flame {}</code> (with <code>--diff REV</code> for a differential one).</p>",
            esc(&b.name)
        );
    }
    for (what, f) in [
        ("flamegraph", &flames.flame),
        ("differential flamegraph", &flames.diff),
    ] {
        if let Some(f) = f {
            let name = esc(&f.file_name().unwrap_or_default().to_string_lossy());
            let _ = writeln!(
                body,
                "<h3>{what}: <a href=\"../flame/{name}\">{name}</a></h3>\n<object class=\"flame\" type=\"image/svg+xml\" data=\"../flame/{name}\"></object>"
            );
        }
    }
    Ok((page(&b.name, "../", plots, &body), plots))
}

fn bisect_page(inputs: &Inputs, stem: &str, r: &Report) -> Result<(String, usize)> {
    let mut body = String::new();
    let _ = writeln!(body, "<h1>Bisect of {}</h1>", esc(&r.bench));
    let _ = writeln!(body, "<p>{}</p>", esc(&r.headline()));
    let _ = writeln!(
        body,
        "<p class=\"meta\">{} candidates from {} to {}, measured in {}; {} builds, {} measurements ({} from the cache), {:.0} s. <code>{}</code></p>",
        r.commits.len(),
        commit_link(inputs, &r.commits[0].id),
        commit_link(inputs, &r.commits[r.commits.len() - 1].id),
        r.answer.metric.name(),
        r.builds,
        r.measurements,
        r.cached,
        r.wall_s,
        esc(stem)
    );
    let svg = bisect_svg(r)?;
    let mut body_plots = figure(
        "bisect",
        &svg,
        "Each measured commit's median against its position: green good-like, red bad-like, grey skipped (drawn at the bottom); the step dashed.",
    );
    body_plots.push('\n');
    body.push_str(&body_plots);
    body.push_str("<table>\n<tr><th>#</th><th>commit</th><th>subject</th><th>class</th><th>median</th><th>observations</th></tr>\n");
    let mut visits: Vec<&crate::search::Visit> = r.answer.outcome.visits.iter().collect();
    visits.sort_by_key(|v| v.index);
    for v in visits {
        let c = &r.commits[v.index];
        let _ = writeln!(
            body,
            "<tr><td class=\"num\">{}</td><td>{}</td><td>{}</td><td>{:?}</td><td class=\"num\">{}</td><td class=\"num\">{}</td></tr>",
            v.index,
            commit_link(inputs, &c.id),
            esc(&c.subject),
            v.class,
            if v.samples.is_empty() {
                "—".into()
            } else {
                value_of(r, median(&v.samples))
            },
            v.samples.len()
        );
    }
    body.push_str("</table>\n");
    if !r.hotspots.is_empty() {
        body.push_str("<h2>Hotspots, parent → culprit</h2>\n<table>\n<tr><th>function</th><th>before</th><th>after</th><th>growth</th></tr>\n");
        for h in &r.hotspots {
            let _ = writeln!(
                body,
                "<tr><td><code>{}</code></td><td class=\"num\">{:.1}%</td><td class=\"num\">{:.1}%</td><td class=\"num\">{:+.1}%</td></tr>",
                esc(&h.function),
                h.before_pct,
                h.after_pct,
                h.growth_pct
            );
        }
        body.push_str("</table>\n");
    }
    for n in &r.hotspot_notes {
        let _ = writeln!(body, "<p class=\"meta\">Note: {}</p>", esc(n));
    }
    Ok((page(&format!("bisect {}", r.bench), "../", 1, &body), 1))
}

fn value_of(r: &Report, v: f64) -> String {
    match r.answer.metric {
        crate::search::Metric::Instructions => format!("{v:.0} instr"),
        crate::search::Metric::Time => fmt_ns(v),
    }
}

// ---- Plots ----

type Area<'a> = DrawingArea<SVGBackend<'a>, Shift>;
type DrawResult = std::result::Result<(), Box<dyn std::error::Error>>;

/// An SVG of `w` × `h` pixels drawn by `f`.
fn draw(w: u32, h: u32, f: impl FnOnce(&Area) -> DrawResult) -> Result<String> {
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, (w, h)).into_drawing_area();
        root.fill(&WHITE).map_err(|e| anyhow!("cannot draw: {e}"))?;
        f(&root).map_err(|e| anyhow!("cannot draw a plot: {e}"))?;
        root.present().map_err(|e| anyhow!("cannot draw: {e}"))?;
    }
    Ok(svg)
}

/// A y range around `values` with a little room, at least `min_span` of
/// their middle high (an exact series that moves 0.1 % looks flat).
fn y_range(values: impl Iterator<Item = f64>, min_span: f64) -> (f64, f64) {
    let (mut lo, mut hi) = (f64::INFINITY, f64::NEG_INFINITY);
    for v in values {
        lo = lo.min(v);
        hi = hi.max(v);
    }
    if !lo.is_finite() {
        return (0.0, 1.0);
    }
    let mid = (lo + hi) / 2.0;
    let span = (hi - lo).max(mid.abs() * min_span).max(1e-9);
    let extra = (span - (hi - lo)) / 2.0 + span * 0.08;
    (lo - extra, hi + extra)
}

fn tick(kind: Kind, v: f64) -> String {
    match kind {
        Kind::Time => fmt_ns(v),
        Kind::Instructions if v >= 1e6 => format!("{:.2}M", v / 1e6),
        Kind::Instructions if v >= 1e4 => format!("{:.1}k", v / 1e3),
        _ => format!("{v:.0}"),
    }
}

struct SeriesPlot<'a> {
    title: &'a str,
    x_desc: &'a str,
    kind: Kind,
    values: &'a [Option<f64>],
    /// The x axis's labels, one per value.
    labels: &'a [String],
    /// Change points: (first index after, improvement).
    changes: &'a [(usize, bool)],
    budget: Option<f64>,
}

fn series_svg(p: &SeriesPlot) -> Result<String> {
    let n = p.values.len().max(1);
    let points: Vec<(f64, f64)> = p
        .values
        .iter()
        .enumerate()
        .filter_map(|(i, v)| v.map(|v| (i as f64, v)))
        .collect();
    let (lo, hi) = y_range(
        points.iter().map(|(_, v)| *v).chain(p.budget),
        if p.kind.exact() { 0.02 } else { 0.1 },
    );
    let labels = p.labels;
    let kind = p.kind;
    draw(860, 320, |root| {
        let mut chart = ChartBuilder::on(root)
            .caption(p.title, ("sans-serif", 16))
            .margin(12)
            .x_label_area_size(48)
            .y_label_area_size(72)
            .build_cartesian_2d(-0.5f64..(n as f64 - 0.5), lo..hi)?;
        let x_label = |x: &f64| {
            let i = x.round();
            if (x - i).abs() < 1e-6 && i >= 0.0 && (i as usize) < labels.len() {
                labels[i as usize].clone()
            } else {
                String::new()
            }
        };
        let y_label = |y: &f64| tick(kind, *y);
        chart
            .configure_mesh()
            .x_labels(n.min(10))
            .x_label_formatter(&x_label)
            .y_labels(6)
            .y_label_formatter(&y_label)
            .x_desc(p.x_desc)
            .light_line_style(RGBColor(240, 240, 240))
            .draw()?;
        for (at, improvement) in p.changes {
            let color = if *improvement { GREEN } else { RED };
            let x = *at as f64 - 0.5;
            chart.draw_series(LineSeries::new([(x, lo), (x, hi)], color.stroke_width(2)))?;
        }
        if let Some(b) = p.budget {
            chart.draw_series(DashedLineSeries::new(
                [(-0.5, b), (n as f64 - 0.5, b)],
                6,
                4,
                ORANGE.stroke_width(2),
            ))?;
        }
        chart.draw_series(LineSeries::new(
            points.iter().copied(),
            BLUE.stroke_width(2),
        ))?;
        chart.draw_series(
            points
                .iter()
                .map(|(x, y)| Circle::new((*x, *y), 3, BLUE.filled())),
        )?;
        Ok(())
    })
}

fn sparkline_svg(values: &[Option<f64>], changes: &[(usize, bool)]) -> Result<String> {
    let n = values.len().max(1);
    let points: Vec<(f64, f64)> = values
        .iter()
        .enumerate()
        .filter_map(|(i, v)| v.map(|v| (i as f64, v)))
        .collect();
    let (lo, hi) = y_range(points.iter().map(|(_, v)| *v), 0.02);
    draw(160, 34, |root| {
        let mut chart = ChartBuilder::on(root)
            .margin(4)
            .build_cartesian_2d(-0.5f64..(n as f64 - 0.5), lo..hi)?;
        chart.draw_series(LineSeries::new(
            points.iter().copied(),
            BLUE.stroke_width(1),
        ))?;
        for (at, improvement) in changes {
            if let Some(p) = points.iter().find(|(x, _)| *x as usize == *at) {
                let color = if *improvement { GREEN } else { RED };
                chart.draw_series([Circle::new(*p, 3, color.filled())])?;
            }
        }
        Ok(())
    })
}

fn strip_svg(old: &[f64], new: &[f64], old_label: &str, new_label: &str) -> Result<String> {
    let (lo, hi) = y_range(old.iter().chain(new).copied(), 0.02);
    let labels = [old_label.to_string(), new_label.to_string()];
    draw(520, 300, |root| {
        let mut chart = ChartBuilder::on(root)
            .caption("round medians", ("sans-serif", 16))
            .margin(12)
            .x_label_area_size(36)
            .y_label_area_size(72)
            .build_cartesian_2d(-0.5f64..1.5f64, lo..hi)?;
        let x_label = |x: &f64| {
            let i = x.round();
            if (x - i).abs() < 1e-6 && (0.0..=1.0).contains(&i) {
                labels[i as usize].clone()
            } else {
                String::new()
            }
        };
        let y_label = |y: &f64| fmt_ns(*y);
        chart
            .configure_mesh()
            .x_labels(3)
            .x_label_formatter(&x_label)
            .y_label_formatter(&y_label)
            .light_line_style(RGBColor(240, 240, 240))
            .draw()?;
        for (side, values, color) in [(0.0, old, GREY), (1.0, new, BLUE)] {
            // Spread the dots sideways, reproducibly (golden-ratio steps).
            let dots = values.iter().enumerate().map(move |(k, v)| {
                let jitter = ((k as f64 * 0.618_034) % 1.0 - 0.5) * 0.3;
                Circle::new((side + jitter, *v), 4, color.filled())
            });
            chart.draw_series(dots)?;
            if !values.is_empty() {
                let m = median(values);
                chart.draw_series(LineSeries::new(
                    [(side - 0.25, m), (side + 0.25, m)],
                    BLACK.stroke_width(2),
                ))?;
            }
        }
        Ok(())
    })
}

fn bisect_svg(r: &Report) -> Result<String> {
    let n = r.commits.len().max(1);
    let good_like = |c: Class| {
        matches!(
            c,
            Class::Good | Class::BetweenGoodLike | Class::UncertainGoodLike
        )
    };
    let measured: Vec<(f64, f64, Class)> = r
        .answer
        .outcome
        .visits
        .iter()
        .filter(|v| !v.samples.is_empty())
        .map(|v| (v.index as f64, median(&v.samples), v.class))
        .collect();
    let (lo, hi) = y_range(
        measured.iter().map(|(_, v, _)| *v),
        if r.answer.metric == crate::search::Metric::Instructions {
            0.02
        } else {
            0.1
        },
    );
    let metric = r.answer.metric;
    let step = match &r.answer.outcome.finding {
        Finding::Culprit { step, .. } => Some(step.culprit),
        _ => None,
    };
    let skipped: Vec<usize> = r
        .answer
        .outcome
        .visits
        .iter()
        .filter(|v| v.class == Class::Skipped)
        .map(|v| v.index)
        .collect();
    draw(860, 320, |root| {
        let mut chart = ChartBuilder::on(root)
            .caption("bisect path", ("sans-serif", 16))
            .margin(12)
            .x_label_area_size(40)
            .y_label_area_size(72)
            .build_cartesian_2d(-0.5f64..(n as f64 - 0.5), lo..hi)?;
        let y_label = |y: &f64| match metric {
            crate::search::Metric::Instructions => tick(Kind::Instructions, *y),
            crate::search::Metric::Time => fmt_ns(*y),
        };
        let x_label = |x: &f64| {
            let i = x.round();
            if (x - i).abs() < 1e-6 && i >= 0.0 && (i as usize) < r.commits.len() {
                short(&r.commits[i as usize].id).chars().take(7).collect()
            } else {
                String::new()
            }
        };
        chart
            .configure_mesh()
            .x_labels(n.min(10))
            .x_label_formatter(&x_label)
            .y_label_formatter(&y_label)
            .x_desc("candidate commit, good → bad")
            .light_line_style(RGBColor(240, 240, 240))
            .draw()?;
        if let Some(c) = step {
            let x = c as f64 - 0.5;
            chart.draw_series(DashedLineSeries::new(
                [(x, lo), (x, hi)],
                6,
                4,
                ORANGE.stroke_width(2),
            ))?;
        }
        chart.draw_series(measured.iter().map(|(x, y, c)| {
            let color = if good_like(*c) { GREEN } else { RED };
            Circle::new((*x, *y), 5, color.filled())
        }))?;
        chart.draw_series(
            skipped
                .iter()
                .map(|i| Cross::new((*i as f64, lo + (hi - lo) * 0.04), 5, GREY.stroke_width(2))),
        )?;
        Ok(())
    })
}

#[cfg(test)]
mod tests;
