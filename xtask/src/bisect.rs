//! `cargo xtask bisect BENCH`: which commit made BENCH slower.
//!
//! Candidates come from `git.rs` (first-parent, relevant paths only); each
//! is written into one reusable directory outside the user's checkout and
//! built there with the shared target directory; only the `probe` bench
//! target is built, and only BENCH is run. Built probes and measurements
//! are cached under `profiles/cache/` by commit (and build settings), so a
//! re-run or a nearby range reuses them. The search itself is `search.rs`.

use crate::flags::{self, Metric};
use crate::git::{self, CommitInfo};
use crate::search::{self, Finding, Measurer, Outcome, Policy, Prepared};
use crate::stats::median;
use crate::verdicts::{fmt_ns, short};
use crate::{Ctx, Progress};
use anyhow::{Context, Result, bail};
use serde::Serialize;
use std::collections::BTreeMap;
use std::fmt::Write;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

crate::message_error!(
    /// The endpoints show no regression to bisect (exit code 5).
    NothingToBisect
);

/// Callgrind iterations per measurement: enough to dwarf the routine's
/// first-call effects, few enough for valgrind's 50x slowdown.
const CALLGRIND_ITERS: &str = "10";
/// Probe samples per time observation (10 ms each).
const TIME_SAMPLES: &str = "10";

impl flags::Bisect {
    pub fn run(&self, ctx: &Ctx) -> Result<()> {
        let report = self.execute(ctx)?;
        match &report.outcome.finding {
            Finding::Culprit { .. } | Finding::Ambiguous { .. } => Ok(()),
            _ => bail!(NothingToBisect(report.headline())),
        }
    }

    /// The whole bisect: prints the report and stores it under
    /// `profiles/reports/`, and returns it whatever it found.
    pub fn execute(&self, ctx: &Ctx) -> Result<Report> {
        let started = Instant::now();
        if ctx.budgets.get(&self.bench).is_none() {
            let names: Vec<&str> = ctx
                .budgets
                .benchmarks
                .iter()
                .map(|b| b.name.as_str())
                .collect();
            bail!(crate::Usage(format!(
                "unknown benchmark `{}`; {}",
                self.bench,
                crate::budgets::suggest(&self.bench, &names)
            )));
        }
        if !(self.threshold > 0.0 && self.threshold < 100.0) {
            bail!(crate::Usage(format!(
                "--threshold is a percentage between 0 and 100, not {}",
                self.threshold
            )));
        }
        let repo = git::open(&ctx.root)?;
        let good_rev = match &self.good {
            Some(g) => g.clone(),
            None => match ctx.store.has_baseline("main").then(|| ctx.store.resolve("main")).transpose()? {
                Some((_, run)) => run.commit.context("baseline `main` records no commit; pass --good REV")?,
                None => bail!(crate::Usage(
                    "no --good given and no baseline `main` to take it from: pass --good REV, or save a baseline first (`cargo xtask bench --save-baseline main`)".into()
                )),
            },
        };
        let good = git::resolve(&repo, &good_rev)?;
        let bad = git::resolve(&repo, &self.bad)?;
        let (commits, irrelevant) = git::candidates(&repo, good, bad)?;
        let valgrind = valgrind_version();
        let metric = match (self.metric, &valgrind) {
            (Metric::Instructions, None) => bail!(
                "--metric instructions needs valgrind, which is not installed: run scripts/install-tools.sh, or use --metric time"
            ),
            (Metric::Auto, None) => {
                eprintln!(
                    "valgrind is not installed (scripts/install-tools.sh installs it): measuring time only"
                );
                Metric::Time
            }
            (m, _) => m,
        };
        eprintln!(
            "bisecting {} over {} commits from {} to {} ({} without changes to zp, the manifests or the toolchain left out)",
            self.bench,
            commits.len(),
            short(&commits[0].id),
            short(&commits[commits.len() - 1].id),
            irrelevant
        );

        let mut probe = Probe::new(ctx, &repo, &commits, &self.bench, self.jobs, self.fresh)?;
        let n = commits.len() - 1;
        let threshold = self.threshold / 100.0;
        let time_policy = Policy {
            threshold,
            exact: false,
            initial_rounds: 5,
            max_rounds: 15,
        };
        // Instruction counts move less than time for most slowdowns (a
        // cache miss costs cycles, not instructions): half the threshold.
        let exact_policy = Policy {
            threshold: threshold / 2.0,
            exact: true,
            initial_rounds: 1,
            max_rounds: 1,
        };
        let steps = (n as f64).log2().ceil() as u64 + 3;
        let progress = Progress::new(steps, "bisecting");
        let mut on_step = |what: &str, i: usize| {
            progress.phase(&format!(
                "{what} {} {}",
                short(&commits[i].id),
                commits[i].subject
            ));
            if what.starts_with("measuring") || what.starts_with("confirming") {
                progress.inc();
            }
        };
        let (outcome, used, confirmation) = match metric {
            Metric::Time => (
                run_search(&mut probe, Metric::Time, n, time_policy, &mut on_step)?,
                Metric::Time,
                None,
            ),
            Metric::Instructions => (
                run_search(
                    &mut probe,
                    Metric::Instructions,
                    n,
                    exact_policy,
                    &mut on_step,
                )?,
                Metric::Instructions,
                None,
            ),
            Metric::Auto => {
                let exact = run_search(
                    &mut probe,
                    Metric::Instructions,
                    n,
                    exact_policy,
                    &mut on_step,
                )?;
                match &exact.finding {
                    Finding::Culprit { step, .. } => {
                        on_step("confirming in time", step.culprit);
                        probe.metric = Metric::Time;
                        let c = search::confirm_only(
                            &mut probe,
                            step.parent,
                            step.culprit,
                            time_policy,
                        )?;
                        (exact, Metric::Instructions, Some(c))
                    }
                    _ => {
                        progress.note(
                            "the regression does not show in instruction counts: bisecting in time",
                        );
                        (
                            run_search(&mut probe, Metric::Time, n, time_policy, &mut on_step)?,
                            Metric::Time,
                            None,
                        )
                    }
                }
            }
        };
        progress.finish();
        // Why: where the culprit spends its time differently from its parent.
        let mut hotspots = Vec::new();
        if let Finding::Culprit { step, .. } = &outcome.finding
            && let (Some(pe), Some(ce)) = (
                probe.exes.get(&step.parent).cloned(),
                probe.exes.get(&step.culprit).cloned(),
            )
        {
            eprintln!("profiling the culprit against its parent (pprof, 3 s each) …");
            match (
                crate::flame::sample_timed(ctx, &pe, &self.bench, 3.0),
                crate::flame::sample_timed(ctx, &ce, &self.bench, 3.0),
            ) {
                (Ok((before, tb)), Ok((after, ta))) => {
                    // Time per iteration while sampling scales the shares.
                    // Compared by zp function: leaf names of inlined code in
                    // other crates differ between any two builds.
                    let (b, a) = (before.by_zp_function(), after.by_zp_function());
                    hotspots = a.changes_from(&b, ta / tb, 5);
                }
                (Err(e), _) | (_, Err(e)) => eprintln!("no hotspots: {e:#}"),
            }
        }
        let (builds, measurements, cached) = (probe.builds, probe.measurements, probe.cached);
        drop(probe);
        let report = Report {
            bench: self.bench.clone(),
            metric: used,
            threshold_pct: self.threshold,
            commits,
            irrelevant,
            outcome,
            time_confirmation: confirmation,
            hotspots,
            builds,
            measurements,
            cached,
            wall_s: started.elapsed().as_secs_f64(),
        };
        let text = report.render();
        print!("{text}");
        let reports = ctx.store.reports();
        std::fs::create_dir_all(&reports)?;
        let stem = format!("bisect-{}-{}", self.bench, crate::host::utc_now().0);
        std::fs::write(reports.join(format!("{stem}.md")), &text)?;
        std::fs::write(
            reports.join(format!("{stem}.json")),
            serde_json::to_string_pretty(&report)? + "\n",
        )?;
        eprintln!("stored: {}", reports.join(format!("{stem}.md")).display());
        Ok(report)
    }
}

fn run_search(
    probe: &mut Probe,
    metric: Metric,
    n: usize,
    policy: Policy,
    on_step: search::OnStep<'_>,
) -> Result<Outcome> {
    probe.metric = metric;
    search::bisect(probe, n, policy, on_step)
}

fn valgrind_version() -> Option<String> {
    let out = Command::new("valgrind").arg("--version").output().ok()?;
    out.status
        .success()
        .then(|| String::from_utf8_lossy(&out.stdout).trim().to_string())
}

/// Builds and runs the probe of each candidate commit.
struct Probe<'a> {
    repo: &'a git2::Repository,
    commits: &'a [CommitInfo],
    bench: String,
    metric: Metric,
    worktree: PathBuf,
    target_dir: PathBuf,
    cache: PathBuf,
    build_key: String,
    jobs: Option<u32>,
    fresh: bool,
    exes: BTreeMap<usize, PathBuf>,
    /// Cached observations per (metric, candidate) and how many were replayed.
    replay: BTreeMap<(String, usize), (Vec<f64>, usize)>,
    builds: usize,
    measurements: usize,
    cached: usize,
}

impl<'a> Probe<'a> {
    fn new(
        ctx: &Ctx,
        repo: &'a git2::Repository,
        commits: &'a [CommitInfo],
        bench: &str,
        jobs: Option<u32>,
        fresh: bool,
    ) -> Result<Probe<'a>> {
        // One directory per repository, outside it: the user's checkout is
        // never written to, whatever happens.
        let tag = format!(
            "{:016x}",
            crate::host::fnv1a(ctx.root.to_string_lossy().as_bytes())
        );
        let worktree = std::env::temp_dir()
            .join(format!("zp-workbench-{tag}"))
            .join("worktree");
        let target_dir = ctx.target_dir.clone();
        let toolchain = crate::host::Build::detect(&ctx.root)
            .map(|b| b.toolchain)
            .unwrap_or_default();
        let flags = std::env::var("RUSTFLAGS").unwrap_or_default();
        let build_key = format!(
            "{:08x}",
            crate::host::fnv1a(format!("{toolchain}|{flags}").as_bytes()) as u32
        );
        Ok(Probe {
            repo,
            commits,
            bench: bench.to_string(),
            metric: Metric::Time,
            worktree,
            target_dir,
            cache: ctx.root.join("profiles/cache"),
            build_key,
            jobs,
            fresh,
            exes: BTreeMap::new(),
            replay: BTreeMap::new(),
            builds: 0,
            measurements: 0,
            cached: 0,
        })
    }

    fn bin_dir(&self, i: usize) -> PathBuf {
        self.cache
            .join("bin")
            .join(format!("{}-{}", self.commits[i].id, self.build_key))
    }

    fn samples_file(&self, metric: &str, i: usize) -> PathBuf {
        self.cache
            .join("samples")
            .join(&self.bench)
            .join(metric)
            .join(format!("{}.json", self.commits[i].id))
    }

    fn build(&mut self, i: usize, dir: &Path) -> Result<Option<String>> {
        let id = git2::Oid::from_str(&self.commits[i].id)?;
        git::materialize(self.repo, id, &self.worktree).with_context(|| {
            format!(
                "cannot check out {} into {}",
                short(&self.commits[i].id),
                self.worktree.display()
            )
        })?;
        let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
        let mut cmd = Command::new(cargo);
        cmd.current_dir(&self.worktree)
            .env("CARGO_TARGET_DIR", &self.target_dir)
            .args([
                "bench",
                "--package",
                "zp",
                "--bench",
                "probe",
                "--no-run",
                "--message-format=json-render-diagnostics",
            ]);
        if let Some(j) = self.jobs {
            cmd.args(["--jobs", &j.to_string()]);
        }
        let out = cmd.output().context("cannot run cargo")?;
        self.builds += 1;
        if !out.status.success() {
            let err = String::from_utf8_lossy(&out.stderr);
            let why = if err.contains("no bench target named `probe`") {
                "has no probe bench target (older than the workbench)".to_string()
            } else {
                let first = err
                    .lines()
                    .find(|l| l.starts_with("error"))
                    .unwrap_or("cargo failed");
                format!("does not build ({first})")
            };
            return Ok(Some(why));
        }
        let exes = crate::cargo::executables(&String::from_utf8_lossy(&out.stdout));
        let exe = exes.get("probe").context("cargo built no probe")?;
        std::fs::create_dir_all(dir)?;
        std::fs::copy(exe, dir.join("probe"))
            .with_context(|| format!("cannot cache {}", exe.display()))?;
        let fp = format!(
            "{:016x}",
            crate::host::fnv1a(&std::fs::read(dir.join("probe"))?)
        );
        std::fs::write(dir.join("fingerprint"), &fp)?;
        Ok(None)
    }

    fn observe(&mut self, i: usize) -> Result<f64> {
        let exe = self
            .exes
            .get(&i)
            .context("sampled before prepared")?
            .clone();
        let run = |args: &[&str]| crate::cargo::probe(&exe, &self.worktree, args);
        Ok(match self.metric {
            Metric::Instructions => {
                let v = run(&[
                    "run",
                    &self.bench,
                    "--instrument",
                    "callgrind",
                    "--iters",
                    CALLGRIND_ITERS,
                ])?;
                v["instructions_per_iter"]
                    .as_f64()
                    .context("the probe reported no instruction count")?
            }
            _ => {
                let v = run(&[
                    "run",
                    &self.bench,
                    "--instrument",
                    "time",
                    "--samples",
                    TIME_SAMPLES,
                ])?;
                let s: Vec<f64> = v["samples_ns"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .filter_map(|x| x.as_f64())
                    .collect();
                anyhow::ensure!(!s.is_empty(), "the probe reported no time samples");
                median(&s)
            }
        })
    }
}

impl Drop for Probe<'_> {
    /// The directory commits were written into goes with the bisect (the
    /// built probes stay in the cache); an interrupted bisect leaves it for
    /// the next one to reuse.
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.worktree);
        if let Some(parent) = self.worktree.parent() {
            let _ = std::fs::remove_dir(parent);
        }
    }
}

fn fmt_p(p: f64) -> String {
    if p < 1e-4 {
        "p < 0.0001".to_string()
    } else {
        format!("p = {p:.4}")
    }
}

fn metric_name(m: Metric) -> &'static str {
    match m {
        Metric::Instructions => "instructions",
        _ => "time",
    }
}

impl Probe<'_> {
    /// The cached probe of candidate `i`, built first if need be; or why it
    /// cannot be built.
    fn ensure_built(&mut self, i: usize) -> Result<std::result::Result<PathBuf, String>> {
        let dir = self.bin_dir(i);
        // A cached build failure stands unless --fresh asks to retry it.
        if !self.fresh
            && let Ok(why) = std::fs::read_to_string(dir.join("skip"))
        {
            return Ok(Err(why));
        }
        if self.fresh {
            let _ = std::fs::remove_file(dir.join("skip"));
        }
        if !dir.join("probe").is_file()
            && let Some(why) = self.build(i, &dir)?
        {
            std::fs::create_dir_all(&dir)?;
            std::fs::write(dir.join("skip"), &why)?;
            return Ok(Err(why));
        }
        Ok(Ok(dir.join("probe")))
    }
}

/// The probe built from `rev` (through the bisect's cache), or from the
/// working tree as it is when `rev` is `None`; with a label naming it.
pub fn probe_binary(ctx: &Ctx, rev: Option<&str>) -> Result<(PathBuf, String)> {
    let Some(rev) = rev else {
        let exes = crate::cargo::build_benches_in(&ctx.root, &["probe"], &ctx.probe_profile, &[])?;
        let label = match git::head(&ctx.root)? {
            Some(h) => format!(
                "{}{}",
                short(&h.commit),
                if h.dirty { "+changes" } else { "" }
            ),
            None => "working tree".to_string(),
        };
        return Ok((exes["probe"].clone(), label));
    };
    let repo = git::open(&ctx.root)?;
    let id = git::resolve(&repo, rev)?;
    let commits = vec![git::info(&repo, id)?];
    let mut probe = Probe::new(ctx, &repo, &commits, "", None, false)?;
    eprintln!(
        "building the probe at {} {} …",
        short(&commits[0].id),
        commits[0].subject
    );
    match probe.ensure_built(0)? {
        Ok(exe) => Ok((exe, short(&commits[0].id).to_string())),
        Err(why) => bail!(crate::Usage(format!(
            "`{rev}` ({}) {why}",
            short(&commits[0].id)
        ))),
    }
}

impl Measurer for Probe<'_> {
    fn prepare(&mut self, i: usize) -> Result<Prepared> {
        let dir = self.bin_dir(i);
        if let Err(why) = self.ensure_built(i)? {
            return Ok(Prepared::Skip(why));
        }
        let exe = dir.join("probe");
        // The worktree may hold another commit by now; the probe needs none
        // of its files, but runs there so relative paths stay inside it.
        std::fs::create_dir_all(&self.worktree)?;
        let list = Command::new(&exe)
            .current_dir(&self.worktree)
            .arg("--list")
            .output()
            .with_context(|| format!("cannot run {}", exe.display()))?;
        let names = String::from_utf8_lossy(&list.stdout);
        if !names
            .lines()
            .any(|l| l.split_whitespace().next() == Some(self.bench.as_str()))
        {
            return Ok(Prepared::Skip(format!("has no benchmark `{}`", self.bench)));
        }
        self.exes.insert(i, exe);
        Ok(Prepared::Ready(std::fs::read_to_string(
            dir.join("fingerprint"),
        )?))
    }

    fn sample(&mut self, i: usize) -> Result<f64> {
        let metric = metric_name(self.metric);
        let key = (metric.to_string(), i);
        let file = self.samples_file(metric, i);
        if !self.replay.contains_key(&key) {
            let stored: Vec<f64> = if self.fresh {
                Vec::new()
            } else {
                std::fs::read_to_string(&file)
                    .ok()
                    .and_then(|t| serde_json::from_str(&t).ok())
                    .unwrap_or_default()
            };
            self.replay.insert(key.clone(), (stored, 0));
        }
        let (stored, cursor) = self.replay.get_mut(&key).expect("inserted");
        if *cursor < stored.len() {
            *cursor += 1;
            self.cached += 1;
            return Ok(stored[*cursor - 1]);
        }
        let v = self.observe(i)?;
        self.measurements += 1;
        let (stored, cursor) = self.replay.get_mut(&key).expect("inserted");
        stored.push(v);
        *cursor += 1;
        std::fs::create_dir_all(file.parent().expect("in a folder"))?;
        std::fs::write(&file, serde_json::to_string(stored)?)?;
        Ok(v)
    }
}

#[derive(Serialize)]
pub struct Report {
    pub bench: String,
    pub metric: Metric,
    pub threshold_pct: f64,
    pub commits: Vec<CommitInfo>,
    pub irrelevant: usize,
    pub outcome: Outcome,
    time_confirmation: Option<search::Step>,
    /// Functions whose share of samples changed most, parent → culprit.
    hotspots: Vec<crate::stacks::Change>,
    builds: usize,
    measurements: usize,
    cached: usize,
    wall_s: f64,
}

impl Report {
    fn value(&self, v: f64) -> String {
        match self.metric {
            Metric::Instructions => format!("{v:.0} instr"),
            _ => fmt_ns(v),
        }
    }

    pub fn headline(&self) -> String {
        let (good, bad) = (
            short(&self.commits[0].id),
            short(&self.commits[self.commits.len() - 1].id),
        );
        let pct = |r: f64| format!("{:+.1}%", (r - 1.0) * 100.0);
        let p = |p: &Option<f64>| p.map_or(String::new(), |p| format!(", p = {p:.3}"));
        match &self.outcome.finding {
            Finding::NoRegression { ratio, p: pv } => format!(
                "no regression of {} from {good} to {bad}: {} ({}{}), within the {}% threshold",
                self.bench,
                pct(*ratio),
                metric_name(self.metric),
                p(pv),
                self.threshold_pct
            ),
            Finding::Improvement { ratio, p: pv } => {
                format!(
                    "{} got faster from {good} to {bad}: {} ({}{}); nothing to bisect",
                    self.bench,
                    pct(*ratio),
                    metric_name(self.metric),
                    p(pv)
                )
            }
            Finding::Inconclusive { ratio, p: pv } => format!(
                "cannot tell whether {} regressed from {good} to {bad}: {} ({}{}) after the maximum rounds; try --metric instructions or a quieter machine",
                self.bench,
                pct(*ratio),
                metric_name(self.metric),
                p(pv)
            ),
            Finding::Culprit { step, .. } => {
                let c = &self.commits[step.culprit];
                format!(
                    "{} regressed at {} \"{}\": {} ({:.0}% of the whole change)",
                    self.bench,
                    short(&c.id),
                    c.subject,
                    pct(step.ratio),
                    step.share * 100.0
                )
            }
            Finding::Ambiguous { after, upto } => format!(
                "{} regressed after {} and at or before {}: the commits between could not be measured",
                self.bench,
                short(&self.commits[*after].id),
                short(&self.commits[*upto].id)
            ),
        }
    }

    pub fn render(&self) -> String {
        let mut out = String::new();
        let _ = writeln!(out, "## bisect {}: {}\n", self.bench, self.headline());
        if let Finding::Culprit { step, other_steps } = &self.outcome.finding {
            let c = &self.commits[step.culprit];
            let _ = writeln!(out, "Culprit: {}  ", c.id);
            let _ = writeln!(out, "Subject: {}  ", c.subject);
            let _ = writeln!(out, "Author: {}, {}  ", c.author, c.date);
            let _ = writeln!(
                out,
                "Files under zp/ and the manifests: {}  ",
                c.relevant_files.join(", ")
            );
            let _ = writeln!(
                out,
                "Step: {} over its parent {} ({}; 95% interval {:+.1}% to {:+.1}%{}), {:.0}% of the whole good→bad change of {:+.1}%  ",
                format_args!("{:+.1}%", (step.ratio - 1.0) * 100.0),
                short(&self.commits[step.parent].id),
                metric_name(self.metric),
                (step.low - 1.0) * 100.0,
                (step.high - 1.0) * 100.0,
                step.p.map_or(String::new(), |p| format!(", {}", fmt_p(p))),
                step.share * 100.0,
                (self.outcome.total_ratio - 1.0) * 100.0
            );
            if let Some(t) = &self.time_confirmation {
                let _ = writeln!(
                    out,
                    "Confirmed in time: {:+.1}% (95% interval {:+.1}% to {:+.1}%{})  ",
                    (t.ratio - 1.0) * 100.0,
                    (t.low - 1.0) * 100.0,
                    (t.high - 1.0) * 100.0,
                    t.p.map_or(String::new(), |p| format!(", {}", fmt_p(p)))
                );
            }
            if !self.hotspots.is_empty() {
                let _ = writeln!(
                    out,
                    "\nHotspots (time by zp function, with what it calls outside zp; parent → culprit):  "
                );
                for (i, h) in self.hotspots.iter().enumerate() {
                    let _ = writeln!(
                        out,
                        "{}. {} - {:.0}% → {:.0}% of time ({:+.1}% of the parent's time)  ",
                        i + 1,
                        crate::stacks::elide_generics(&h.function),
                        h.before_pct,
                        h.after_pct,
                        h.growth_pct
                    );
                }
                out.push('\n');
            }
            for (a, b, r) in other_steps {
                let _ = writeln!(
                    out,
                    "Another step of comparable size: {:+.1}% between {} and {}  ",
                    (r - 1.0) * 100.0,
                    short(&self.commits[*a].id),
                    short(&self.commits[*b].id)
                );
            }
            out.push('\n');
        }
        let good = self
            .outcome
            .visits
            .iter()
            .find(|v| v.index == 0)
            .map(|v| median(&v.samples));
        let _ = writeln!(
            out,
            "| # | commit | subject | verdict | median | vs good | observations |"
        );
        let _ = writeln!(
            out,
            "|---|--------|---------|---------|--------|---------|--------------|"
        );
        for v in &self.outcome.visits {
            let c = &self.commits[v.index];
            let (m, vs) = if v.samples.is_empty() {
                ("—".to_string(), "—".to_string())
            } else {
                let m = median(&v.samples);
                (
                    self.value(m),
                    good.map_or("—".into(), |g| format!("{:+.1}%", (m / g - 1.0) * 100.0)),
                )
            };
            let class = serde_json::to_value(v.class)
                .ok()
                .and_then(|x| x.as_str().map(String::from))
                .unwrap_or_default();
            let verdict = match &v.note {
                Some(n) => format!("{class} ({n})"),
                None => class,
            };
            let subject: String = c.subject.chars().take(50).collect();
            let _ = writeln!(
                out,
                "| {} | {} | {} | {} | {} | {} | {} |",
                v.index,
                short(&c.id),
                subject,
                verdict,
                m,
                vs,
                v.samples.len()
            );
        }
        let _ = writeln!(
            out,
            "\n{} candidate commits ({} left out as irrelevant) · {} builds · {} measurements, {} replayed from the cache · {} binaries identical to one already measured · {:.0} s",
            self.commits.len(),
            self.irrelevant,
            self.builds,
            self.measurements,
            self.cached,
            self.outcome.reused,
            self.wall_s
        );
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use git2::{Repository, Signature};

    const PROBE: &str = r#"
use std::time::Instant;
fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match args.first().map(String::as_str) {
        Some("--list") => println!("spin                           datapath"),
        Some("run") => {
            let samples: usize = args.iter().position(|a| a == "--samples").map_or(10, |i| args[i + 1].parse().unwrap());
            let out: Vec<String> = (0..samples)
                .map(|_| {
                    let t = Instant::now();
                    for _ in 0..5 {
                        std::hint::black_box(zp::spin(std::hint::black_box(zp::WORK)));
                    }
                    (t.elapsed().as_nanos() as f64 / 5.0).to_string()
                })
                .collect();
            println!("{{\"samples_ns\": [{}]}}", out.join(","));
        }
        _ => {}
    }
}
"#;

    fn lib(work: u64, extra: &str) -> String {
        format!(
            "pub const WORK: u64 = {work};\n{extra}\npub fn spin(n: u64) -> u64 {{\n    let mut x = 1u64;\n    for i in 0..n {{\n        x = x.wrapping_mul(6364136223846793005).wrapping_add(i ^ (x >> 7));\n    }}\n    x\n}}\n"
        )
    }

    /// A small real crate named zp with a probe, in a fresh repository:
    /// eight commits, two of them touching only the README, and (when
    /// `plant`) the routine's work doubled at the fourth.
    fn history(plant: bool) -> (tempfile::TempDir, Vec<git2::Oid>) {
        let dir = tempfile::tempdir().unwrap();
        let repo = Repository::init(dir.path()).unwrap();
        let budgets =
            std::fs::read_to_string(crate::workspace_root().join("profiles/budgets.toml")).unwrap();
        let thresholds = &budgets
            [budgets.find("[thresholds.crypto]").unwrap()..budgets.find("[benchmarks]").unwrap()];
        let files: Vec<(&str, String)> = vec![
            ("Cargo.toml", "[workspace]\nmembers = [\"zp\"]\nresolver = \"2\"\n".into()),
            ("zp/Cargo.toml", "[package]\nname = \"zp\"\nversion = \"0.1.0\"\nedition = \"2021\"\n\n[[bench]]\nname = \"probe\"\nharness = false\n".into()),
            ("zp/benches/probe.rs", PROBE.into()),
            ("zp/src/lib.rs", lib(200_000, "")),
            ("profiles/budgets.toml", format!("{thresholds}[benchmarks]\nspin = {{ category = \"datapath\", target_us = 5000, description = \"spin\" }}\n")),
            ("README.md", "a crate\n".into()),
            (".gitignore", "/target\n/profiles/cache/\n/profiles/reports/\n".into()),
        ];
        let work_at_3 = if plant { 400_000 } else { 200_000 };
        let steps: Vec<(&str, Vec<(&str, String)>)> = vec![
            ("initial", files),
            ("docs", vec![("README.md", "a crate, documented\n".into())]),
            (
                "comment",
                vec![("zp/src/lib.rs", lib(200_000, "// a comment"))],
            ),
            (
                "more work",
                vec![("zp/src/lib.rs", lib(work_at_3, "// a comment"))],
            ),
            (
                "another comment",
                vec![(
                    "zp/src/lib.rs",
                    lib(work_at_3, "// a comment\n// and another"),
                )],
            ),
            (
                "docs again",
                vec![("README.md", "a crate, documented twice\n".into())],
            ),
            (
                "helper",
                vec![(
                    "zp/src/lib.rs",
                    lib(
                        work_at_3,
                        "// a comment\n// and another\npub fn helper() -> u8 { 7 }",
                    ),
                )],
            ),
            (
                "last",
                vec![(
                    "zp/src/lib.rs",
                    lib(
                        work_at_3,
                        "// a comment\n// and another\npub fn helper() -> u8 { 8 }",
                    ),
                )],
            ),
        ];
        let sig = Signature::now("Dev", "dev@example.com").unwrap();
        let mut ids = Vec::new();
        for (msg, changes) in steps {
            for (path, text) in changes {
                let p = dir.path().join(path);
                std::fs::create_dir_all(p.parent().unwrap()).unwrap();
                std::fs::write(&p, text).unwrap();
            }
            let mut index = repo.index().unwrap();
            index
                .add_all(["*"], git2::IndexAddOption::DEFAULT, None)
                .unwrap();
            index.write().unwrap();
            let tree = repo.find_tree(index.write_tree().unwrap()).unwrap();
            let parents: Vec<git2::Commit> = ids
                .last()
                .map(|id| repo.find_commit(*id).unwrap())
                .into_iter()
                .collect();
            let parents: Vec<&git2::Commit> = parents.iter().collect();
            ids.push(
                repo.commit(Some("HEAD"), &sig, &sig, msg, &tree, &parents)
                    .unwrap(),
            );
        }
        (dir, ids)
    }

    fn bisect(root: &Path, good: git2::Oid) -> Result<serde_json::Value> {
        let ctx = Ctx::new(root.to_path_buf(), "bench", root.join("target"))?;
        let flags = flags::Bisect {
            bench: "spin".into(),
            good: Some(good.to_string()),
            bad: "HEAD".into(),
            metric: Metric::Time,
            threshold: 5.0,
            jobs: None,
            fresh: false,
        };
        flags.run(&ctx)?;
        let reports = root.join("profiles/reports");
        let json = std::fs::read_dir(&reports)?
            .flatten()
            .map(|e| e.path())
            .find(|p| p.extension().is_some_and(|x| x == "json"))
            .unwrap();
        Ok(serde_json::from_str(&std::fs::read_to_string(json)?)?)
    }

    fn untouched(root: &Path, head: git2::Oid) {
        let repo = Repository::open(root).unwrap();
        assert_eq!(repo.head().unwrap().target(), Some(head));
        let mut opts = git2::StatusOptions::new();
        opts.include_untracked(true);
        let changed: Vec<String> = repo
            .statuses(Some(&mut opts))
            .unwrap()
            .iter()
            .filter_map(|s| s.path().ok().map(String::from))
            .collect();
        assert!(
            changed.is_empty(),
            "the bisect changed the user's tree: {changed:?}"
        );
        assert!(repo.worktrees().unwrap().is_empty());
    }

    #[test]
    fn end_to_end_bisect_finds_the_planted_slowdown_and_nothing_in_a_flat_history() {
        let (dir, ids) = history(true);
        let report = bisect(dir.path(), ids[0]).unwrap();
        let finding = &report["outcome"]["finding"];
        assert_eq!(finding["kind"], "culprit", "{report:#}");
        let culprit = finding["step"]["culprit"].as_u64().unwrap() as usize;
        assert_eq!(
            report["commits"][culprit]["id"],
            ids[3].to_string(),
            "{report:#}"
        );
        assert_eq!(report["commits"][culprit]["subject"], "more work");
        assert_eq!(
            report["irrelevant"], 2,
            "the two README commits are left out"
        );
        assert!(finding["step"]["ratio"].as_f64().unwrap() > 1.5);
        untouched(dir.path(), ids[7]);

        let (dir, ids) = history(false);
        let err = bisect(dir.path(), ids[0]).unwrap_err();
        assert!(err.is::<NothingToBisect>(), "{err:#}");
        assert!(
            err.to_string().starts_with("no regression of spin"),
            "{err}"
        );
        untouched(dir.path(), ids[7]);
    }

    #[test]
    fn bad_benchmarks_thresholds_and_places_are_usage_errors() {
        let (dir, ctx) = crate::fixtures::temp_ctx();
        let run = |bench: &str, threshold: f64, good: Option<&str>| {
            let flags = flags::Bisect {
                bench: bench.into(),
                good: good.map(String::from),
                bad: "HEAD".into(),
                metric: Metric::Time,
                threshold,
                jobs: None,
                fresh: false,
            };
            let err = flags.execute(&ctx).err().expect("refused");
            assert!(err.is::<crate::Usage>(), "{err:#}");
            err.to_string()
        };
        assert!(
            run("encrypt_recrod_64k", 5.0, None).contains("did you mean `encrypt_record_64k`?")
        );
        assert!(run("encrypt_record_64k", 0.0, None).contains("--threshold is a percentage"));
        assert!(
            run("encrypt_record_64k", 5.0, Some("HEAD~1"))
                .contains("is not inside a git repository")
        );
        Repository::init(dir.path()).unwrap();
        assert!(
            run("encrypt_record_64k", 5.0, None).contains("no --good given and no baseline `main`")
        );
    }

    #[test]
    fn bad_revisions_are_usage_errors() {
        let (dir, ids) = history(false);
        let err = bisect(dir.path(), ids[7]).unwrap_err();
        assert!(
            err.is::<crate::Usage>() && err.to_string().contains("same commit"),
            "{err}"
        );
        let repo = Repository::open(dir.path()).unwrap();
        let (good, bad) = (ids[5], ids[2]);
        let err = git::candidates(&repo, good, bad).unwrap_err();
        assert!(err.to_string().contains("reversed"), "{err}");
        let err = git::candidates(&repo, ids[0], ids[1]).unwrap_err();
        assert!(err.to_string().contains("no commit between"), "{err}");
        assert!(
            git::resolve(&repo, "no-such-branch")
                .unwrap_err()
                .to_string()
                .contains("unknown revision `no-such-branch`")
        );
    }
}
