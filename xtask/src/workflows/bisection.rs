//! The whole bisect as a library function: [`bisect`] finds which commit
//! made a benchmark slower and returns the report, printed and stored. The
//! `bisect` command, the corpus, the demo and `history --explain` all call
//! it with a [`Request`].
//!
//! Candidates come from `git.rs` (first-parent, relevant paths only); each
//! is built through `builds.rs` (outside the checkout, cached by commit and
//! every build input) and measured through the measurement layer
//! (`measure/`): exact instruction counts cached in `measurements.rs` by
//! what was measured, time observations with the machine's load. The search
//! is `search.rs`, the report `bisect_report.rs`; the hotspot diff of the
//! culprit against its parent is `measure::hotspots` (exact where the step
//! shows in instruction counts).

use crate::cli::flags::MetricChoice;
use crate::measure::hotspots::{self, Exactly, Side};
use crate::model::observation::Observation;
use crate::model::search::{self, Finding, Measurer, Metric, Policy, Prepared};
use crate::model::sequential::RoundBudget;
use crate::storage::builds::{self, Builder, Built};
use crate::storage::measurements::{self, Key};
use crate::units::short;
use crate::vcs::git::{self, CommitInfo};
use crate::vcs::probe::{self, Probe};
use crate::workflows::bisect_report::Report;
use crate::{Ctx, Progress, storage::atomic};
use anyhow::{Context, Result, bail};
use std::collections::BTreeMap;
use std::time::Instant;

crate::message_error!(
    /// The endpoints show no regression to bisect (exit code 5).
    NothingToBisect
);

/// Zp functions listed in a hotspot diff.
const HOTSPOTS: usize = 5;

/// What to bisect: `cargo xtask bisect`'s options, as a library takes them.
#[derive(Debug, Clone)]
pub struct Request {
    pub bench: String,
    /// The good endpoint; the baseline `main`'s commit when `None`.
    pub good: Option<String>,
    pub bad: String,
    pub metric: MetricChoice,
    /// The smallest step that counts, in percent.
    pub threshold: f64,
    pub jobs: Option<u32>,
    pub fresh: bool,
}

impl Request {
    /// A bisect of `bench` from `good` to HEAD with every default, as
    /// `cargo xtask bisect BENCH --good GOOD` runs it.
    pub fn from_good_to_head(bench: &str, good: &str) -> Request {
        Request {
            bench: bench.into(),
            good: Some(good.into()),
            bad: "HEAD".into(),
            metric: MetricChoice::Auto,
            threshold: 5.0,
            jobs: None,
            fresh: false,
        }
    }
}

/// The whole bisect: prints the report and stores it under
/// `profiles/reports/`, and returns it whatever it found.
pub fn bisect(ctx: &Ctx, r: &Request) -> Result<Report> {
    let started = Instant::now();
    if ctx.budgets.get(&r.bench).is_none() {
        let names: Vec<&str> = ctx
            .budgets
            .benchmarks
            .iter()
            .map(|b| b.name.as_str())
            .collect();
        bail!(crate::Usage(format!(
            "unknown benchmark `{}`; {}",
            r.bench,
            crate::budgets::suggest(&r.bench, &names)
        )));
    }
    if !(r.threshold > 0.0 && r.threshold < 100.0) {
        bail!(crate::Usage(format!(
            "--threshold is a percentage between 0 and 100, not {}",
            r.threshold
        )));
    }
    let repo = git::open(&ctx.root)?;
    let good_rev = match &r.good {
        Some(g) => g.clone(),
        None => good_from_baseline(ctx)?,
    };
    let good = git::resolve(&repo, &good_rev)?;
    let bad = git::resolve(&repo, &r.bad)?;
    let (commits, irrelevant) = git::candidates(&repo, good, bad)?;
    let valgrind = measurements::valgrind_version();
    let choice = match (r.metric, &valgrind) {
        (MetricChoice::Instructions, None) => bail!(
            "--metric instructions needs valgrind, which is not installed: run scripts/install-tools.sh, or use --metric time"
        ),
        (MetricChoice::Auto, None) => {
            eprintln!(
                "valgrind is not installed (scripts/install-tools.sh installs it): measuring time only"
            );
            MetricChoice::Time
        }
        (m, _) => m,
    };
    eprintln!(
        "bisecting {} over {} commits from {} to {} ({} without changes to zp, the manifests or the toolchain left out)",
        r.bench,
        commits.len(),
        short(&commits[0].id),
        short(&commits[commits.len() - 1].id),
        irrelevant
    );
    eprintln!("machine now: {}", crate::measure::load::describe_now());

    let mut builder = Builder::new(ctx, &repo, builds::Options::probe(ctx, r.jobs, r.fresh))?;
    let machine = crate::host::Machine::detect();
    let mut cands = Candidates {
        builder: &mut builder,
        commits: &commits,
        root: ctx.root.clone(),
        bench: r.bench.clone(),
        probes: BTreeMap::new(),
        fingerprints: BTreeMap::new(),
        cache: measurements::Cache::new(&ctx.store.cache().join("measurements")),
        valgrind: valgrind.clone().unwrap_or_default(),
        cpu_features: machine.features.join(","),
        fresh: r.fresh,
        measurements: 0,
        cached: 0,
    };
    let n = commits.len() - 1;
    let threshold = r.threshold / 100.0;
    let time_policy = Policy {
        metric: Metric::Time,
        threshold,
        budget: RoundBudget::DEFAULT,
    };
    // Instruction counts move less than time for most slowdowns (a
    // cache miss costs cycles, not instructions): half the threshold.
    let exact_policy = Policy {
        metric: Metric::Instructions,
        threshold: threshold / 2.0,
        budget: RoundBudget::DEFAULT,
    };
    let steps = (n as f64).log2().ceil() as u64 + 3;
    let progress = Progress::new(steps, "bisecting");
    let mut on_step = |what: &str, i: usize| {
        if what.starts_with("the regression") || what.starts_with("time shows") {
            progress.note(what);
            return;
        }
        progress.phase(&format!(
            "{what} {} {}",
            short(&commits[i].id),
            commits[i].subject
        ));
        if what.starts_with("measuring")
            || what.starts_with("confirming")
            || what.starts_with("checking")
        {
            progress.inc();
        }
    };
    let answer = match choice {
        MetricChoice::Time => search::single(&mut cands, n, time_policy, &mut on_step),
        MetricChoice::Instructions => search::single(&mut cands, n, exact_policy, &mut on_step),
        MetricChoice::Auto => search::auto(&mut cands, n, exact_policy, time_policy, &mut on_step),
    };
    progress.finish();
    let answer = answer?;
    // Why: where the culprit's costs differ from its parent's. A step
    // time could not decide is still explained: it is what the search
    // found, labelled so.
    let (mut hotspot_diff, mut hotspot_notes) = (None, Vec::new());
    let step = match &answer.outcome.finding {
        Finding::Culprit { step, .. } | Finding::Unconfirmed { step } => Some(step.clone()),
        _ => None,
    };
    if let Some(step) = step
        && let (Some(mut before), Some(mut after)) = (
            cands.probes.get(&step.parent).cloned(),
            cands.probes.get(&step.culprit).cloned(),
        )
    {
        let time_change = match answer.metric {
            Metric::Time => Some(step.ratio - 1.0),
            Metric::Instructions => answer.confirmation.as_ref().map(|c| c.ratio - 1.0),
        };
        eprintln!("explaining the culprit against its parent …");
        let mut exactly = valgrind
            .is_some()
            .then(|| Exactly::new(&ctx.store.cache().join("measurements")))
            .flatten();
        let diff = hotspots::explain(
            exactly.as_mut(),
            Side {
                probe: &mut before,
                id: cands.fingerprints[&step.parent].clone(),
            },
            Side {
                probe: &mut after,
                id: cands.fingerprints[&step.culprit].clone(),
            },
            &r.bench,
            time_change,
            HOTSPOTS,
        );
        match diff {
            Ok(d) => hotspot_diff = Some(d),
            Err(e) => {
                crate::process::check()?;
                hotspot_notes.push(format!("no hotspots: {e:#}"));
            }
        }
    }
    let mut repaired = std::mem::take(&mut cands.builder.repaired);
    repaired.extend(std::mem::take(&mut cands.cache.repaired));
    let (measurements, cached) = (cands.measurements, cands.cached);
    drop(cands);
    let reports = ctx.store.reports();
    let stamp = format!("bisect-{}-{}", r.bench, crate::host::utc_now().0);
    let mut report = Report {
        bench: r.bench.clone(),
        choice,
        threshold_pct: r.threshold,
        commits,
        irrelevant,
        answer,
        hotspots: Vec::new(),
        hotspot_notes,
        hotspot_instrument: None,
        flamegraph: None,
        build_key: builder.key.clone(),
        builds: builder.builds,
        measurements,
        cached,
        repaired,
        wall_s: 0.0,
    };
    if let Some(d) = hotspot_diff {
        report.hotspots = d.changes;
        report.hotspot_notes.extend(d.notes);
        report.hotspot_instrument = Some(d.instrument);
        if let Some((b, a)) = &d.stacks {
            match report.differential_flamegraph(&reports, &stamp, d.instrument, b, a) {
                Ok(path) => report.flamegraph = Some(path.display().to_string()),
                Err(e) => report
                    .hotspot_notes
                    .push(format!("no differential flamegraph: {e:#}")),
            }
        }
    }
    report.wall_s = started.elapsed().as_secs_f64();
    let text = report.render();
    print!("{text}");
    let json = serde_json::to_vec_pretty(&report)?;
    let stem = atomic::write_unique(&reports, &stamp, "json", |_| json.clone())?;
    let md = reports.join(format!("{stem}.md"));
    atomic::write(&md, text.as_bytes())?;
    eprintln!("stored: {}", md.display());
    Ok(report)
}

/// `--good` when none is given: the commit baseline `main` measured, which
/// must be a commit (not a dirty tree).
fn good_from_baseline(ctx: &Ctx) -> Result<String> {
    if !ctx.store.has_baseline("main") {
        bail!(crate::Usage(
            "no --good given and no baseline `main` to take it from: pass --good REV, or save a baseline first (`cargo xtask bench --save-baseline main`)".into()
        ));
    }
    let (_, run) = ctx.store.resolve("main")?;
    let Some(commit) = run.commit else {
        bail!(crate::Usage(
            "baseline `main` records no commit (it was measured outside git): pass --good REV"
                .into()
        ));
    };
    if run.dirty {
        bail!(crate::Usage(format!(
            "baseline `main` was measured on commit {} with uncommitted changes, so no commit has its code: pass --good REV (`--good {}` bisects from the commit without those changes)",
            short(&commit),
            short(&commit)
        )));
    }
    Ok(commit)
}

/// The candidate commits as the search sees them: built on first use,
/// measured through their probes.
struct Candidates<'a, 'r> {
    builder: &'a mut Builder<'r>,
    commits: &'a [CommitInfo],
    root: std::path::PathBuf,
    bench: String,
    probes: BTreeMap<usize, probe::Process>,
    /// Each prepared candidate's probe fingerprint.
    fingerprints: BTreeMap<usize, String>,
    cache: measurements::Cache,
    valgrind: String,
    cpu_features: String,
    fresh: bool,
    measurements: usize,
    cached: usize,
}

impl Measurer for Candidates<'_, '_> {
    fn prepare(&mut self, i: usize) -> Result<Prepared> {
        let built = self.builder.probe(&self.commits[i].id)?;
        let binary = match built {
            Built::Broken(why) => return Ok(Prepared::Skip(why)),
            Built::Ready(b) => b,
        };
        let mut p = probe::Process::new(&binary.exe, &self.root, short(&self.commits[i].id));
        if !p.list()?.iter().any(|l| l.name == self.bench) {
            return Ok(Prepared::Skip(format!("has no benchmark `{}`", self.bench)));
        }
        self.probes.insert(i, p);
        self.fingerprints.insert(i, binary.fingerprint.clone());
        Ok(Prepared::Ready(binary.fingerprint))
    }

    fn count(&mut self, i: usize) -> Result<f64> {
        let fingerprint = self
            .fingerprints
            .get(&i)
            .context("counted before prepared")?;
        let key = Key::instructions(fingerprint, &self.bench, &self.valgrind, &self.cpu_features);
        let probe = self.probes.get_mut(&i).context("counted before prepared")?;
        let (v, cached) = self.cache.exact(&key, probe, self.fresh)?;
        if cached {
            self.cached += 1;
        } else {
            self.measurements += 1;
        }
        Ok(v)
    }

    fn time(&mut self, i: usize) -> Result<Observation> {
        let probe = self.probes.get_mut(&i).context("timed before prepared")?;
        let o = crate::measure::time::observe(probe, &self.bench)?;
        self.measurements += 1;
        Ok(o)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fixtures::mini_history;
    use git2::Repository;

    fn bisect_mini(m: &crate::mini::Mini, good: git2::Oid, metric: MetricChoice) -> Result<Report> {
        bisect(
            &m.ctx(),
            &Request {
                bench: "spin".into(),
                good: Some(good.to_string()),
                bad: "HEAD".into(),
                metric,
                threshold: 5.0,
                jobs: None,
                fresh: false,
            },
        )
    }

    #[test]
    fn end_to_end_bisect_finds_the_planted_slowdown_and_nothing_in_a_flat_history() {
        // In exact instruction counts: this test runs beside the other
        // tests of the binary, and on a loaded 2-core runner time moved a
        // harmless neighbour by +150 % while the doubled work showed +12 %
        // (CI, this session), naming the wrong commit. Time bisects are
        // covered under controlled noise in `search::tests`.
        let m = mini_history(true);
        let report = bisect_mini(&m, m.ids[0], MetricChoice::Instructions).unwrap();
        let Finding::Culprit { step, .. } = &report.answer.outcome.finding else {
            panic!("{}", report.render())
        };
        assert_eq!(report.commits[step.culprit].id, m.ids[3].to_string());
        assert_eq!(report.commits[step.culprit].subject, "more work");
        assert_eq!(report.irrelevant, 2, "the two README commits are left out");
        // The plant doubles the work: the step excludes "no change" and the
        // whole change is far past the threshold.
        assert!(step.low > 1.0, "{step:?}");
        let whole = report.answer.outcome.total_ratio;
        assert!(whole > 1.3, "good→bad {whole}");
        m.untouched().unwrap();

        // Flat: in exact instruction counts, so that the answer does not
        // depend on how busy the machine running the tests is (in time, a
        // loaded 2-core runner can leave it "cannot tell", rightly).
        let flat = mini_history(false);
        let report = bisect_mini(&flat, flat.ids[0], MetricChoice::Instructions).unwrap();
        assert!(
            !matches!(
                report.answer.outcome.finding,
                Finding::Culprit { .. } | Finding::Ambiguous { .. }
            ) && !report.answer.outcome.finding.undecided(),
            "{}",
            report.render()
        );
        assert!(
            report.headline().starts_with("no regression of spin"),
            "{}",
            report.headline()
        );
        flat.untouched().unwrap();
    }

    #[test]
    fn bad_benchmarks_thresholds_and_places_are_usage_errors() {
        let (dir, ctx) = crate::fixtures::temp_ctx();
        let run = |bench: &str, threshold: f64, good: Option<&str>| {
            let flags = Request {
                bench: bench.into(),
                good: good.map(String::from),
                bad: "HEAD".into(),
                metric: MetricChoice::Time,
                threshold,
                jobs: None,
                fresh: false,
            };
            let err = bisect(&ctx, &flags).expect_err("refused");
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
        // A baseline measured with uncommitted changes names no commit's code.
        let mut dirty = crate::fixtures::suite("r1", "1111111111aaaa", 1.0, 0.0);
        dirty.dirty = true;
        ctx.store.save_baseline("main", &dirty).unwrap();
        let err = run("encrypt_record_64k", 5.0, None);
        assert!(
            err.contains("uncommitted changes") && err.contains("--good 1111111111"),
            "{err}"
        );
    }

    #[test]
    fn bad_revisions_are_usage_errors() {
        let m = mini_history(false);
        let err = bisect_mini(&m, m.ids[7], MetricChoice::Time).unwrap_err();
        assert!(
            err.is::<crate::Usage>() && err.to_string().contains("same commit"),
            "{err}"
        );
        let repo = Repository::open(m.root()).unwrap();
        let (good, bad) = (m.ids[5], m.ids[2]);
        let err = git::candidates(&repo, good, bad).unwrap_err();
        assert!(err.to_string().contains("reversed"), "{err}");
        let err = git::candidates(&repo, m.ids[0], m.ids[1]).unwrap_err();
        assert!(err.to_string().contains("no commit between"), "{err}");
        assert!(
            git::resolve(&repo, "no-such-branch")
                .unwrap_err()
                .to_string()
                .contains("unknown revision `no-such-branch`")
        );
    }
}
