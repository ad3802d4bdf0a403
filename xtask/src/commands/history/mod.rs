//! `cargo xtask history`: every relevant commit measured, and where each
//! benchmark changed.
//!
//! **What is measured.** The first-parent commits up to `--until` (HEAD)
//! that touch a path that can change a benchmark (the bisect's rule,
//! `git::relevant`), from `--since REV` or the last `--last N` of them or
//! the root. Each is built through `builds.rs` (the bisect's cache, so a
//! bisect afterwards builds nothing) and measured through its probe:
//! instruction counts under callgrind (exact, cached like a bisect's, by
//! probe fingerprint, valgrind version and CPU features), memory
//! benchmarks' sizes, and with `--metric time` or `both` the time.
//!
//! **How fast.** Building is the slow part, so commits are built one after
//! another on one thread while worker threads measure the commits already
//! built: instruction counts do not depend on what else the machine does,
//! so they can run beside a build. Time does, so it is measured after every
//! build is done, alone, in rounds that alternate direction over the
//! commits (a drift of the machine then does not look like a step).
//!
//! **More than one machine.** `--shard K/N` measures every N-th commit
//! starting at the K-th; `--merge FILES…` combines shard files, refusing
//! files whose counts are not comparable (another compiler or build input,
//! another valgrind, CPU features that select other code paths). Time is
//! kept only when every shard ran on the same machine.
//!
//! **Change points** are `changepoints.rs`'s E-divisive means on each
//! series. Each comes with the commands that explain it; `--explain` runs
//! them (a bisect for a slowdown, a hotspot diff for an improvement).

use crate::budgets::{Budget, Category};
use crate::cli::flags::{self, HistoryMetric, MetricChoice};
use crate::measure::hotspots::{self, Exactly, Side};
use crate::model::observation::{Clock, Load, Observation};
use crate::model::search::Finding;
use crate::model::series::*;
use crate::stats::median;
use crate::storage::builds::{self, BuildKey, Builder, Built};
use crate::storage::measurements::{self, Key};
use crate::units::short;
use crate::vcs::git::{self, CommitInfo};
use crate::vcs::probe::{self, Probe};
use crate::{Ctx, Progress, process, storage::atomic};
use anyhow::{Context, Result, bail};
use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Mutex, mpsc};
use std::time::Instant;

mod explain;
mod merge;
mod pipeline;
mod table;

use explain::*;
use merge::*;
use pipeline::*;
use table::*;

/// Passes over the commits when timing, alternating direction.
const TIME_ROUNDS: usize = 3;

crate::message_error!(
    /// Shard files that cannot be combined (exit code 3).
    CannotMerge
);

impl flags::History {
    pub fn run(&self, ctx: &Ctx) -> Result<()> {
        let mut history = if self.merge.is_empty() {
            self.measure(ctx)?
        } else {
            merge(ctx, &self.merge)?
        };
        history.detect_changes();
        if self.explain {
            explain(ctx, &mut history, self.jobs)?;
        }
        let path = save(ctx, &history, self.out.as_deref())?;
        print!("{}", render(&history));
        eprintln!("stored: {}", path.display());
        Ok(())
    }

    fn kinds(&self) -> Vec<Kind> {
        match self.metric {
            HistoryMetric::Instructions => vec![Kind::Instructions],
            HistoryMetric::Time => vec![Kind::Time],
            HistoryMetric::Both => vec![Kind::Instructions, Kind::Time],
        }
    }

    fn measure(&self, ctx: &Ctx) -> Result<History> {
        let started = Instant::now();
        let benches = select(ctx, &self.benches)?;
        let kinds = self.kinds();
        let valgrind = measurements::valgrind_version();
        if kinds.contains(&Kind::Instructions) && valgrind.is_none() {
            bail!(crate::Usage(
                "instruction counts need valgrind, which is not installed: run scripts/install-tools.sh, or pass --metric time".into()
            ));
        }
        let repo = git::open(&ctx.root)?;
        let head = git::resolve(&repo, &self.until)?;
        let since = self
            .since
            .as_deref()
            .map(|s| git::resolve(&repo, s))
            .transpose()?;
        let (commits, irrelevant, notes) =
            git::history(&repo, head, since, self.last.map(|n| n as usize))?;
        let mine: Vec<usize> = (0..commits.len())
            .filter(|i| self.shard.is_none_or(|s| s.owns(*i)))
            .collect();
        eprintln!(
            "history of {} benchmark{} over {} commits from {} to {}{} ({irrelevant} without changes to zp, the manifests or the toolchain left out)",
            benches.len(),
            if benches.len() == 1 { "" } else { "s" },
            commits.len(),
            short(&commits[0].id),
            short(&commits[commits.len() - 1].id),
            match self.shard {
                Some(s) => format!(", shard {s}: {} of them", mine.len()),
                None => String::new(),
            },
        );
        let machine = crate::host::Machine::detect();
        let workers = self.workers.map_or_else(
            || std::thread::available_parallelism().map_or(2, |n| n.get()),
            |w| w as usize,
        );
        let opts = builds::Options::probe(ctx, self.jobs, self.fresh);
        let plan = Plan {
            commits: &commits,
            mine: &mine,
            benches: &benches,
            instructions: kinds.contains(&Kind::Instructions),
            valgrind: valgrind.clone().unwrap_or_default(),
            cpu_features: machine.features.join(","),
            fresh: self.fresh,
            workers,
        };
        let mut out = History {
            schema: SCHEMA.into(),
            created: crate::host::utc_now().1,
            head: head.to_string(),
            build_key: BuildKey::of(BTreeMap::new()),
            counted_features: match &valgrind {
                Some(_) if kinds.contains(&Kind::Instructions) => {
                    measurements::features_under_valgrind()?
                }
                _ => Vec::new(),
            },
            valgrind,
            cpu_features: machine.features.clone(),
            machine: machine.fingerprint.clone(),
            kinds: kinds.clone(),
            shards: self.shard.into_iter().collect(),
            irrelevant,
            commits: commits
                .iter()
                .map(|c| Point {
                    commit: c.clone(),
                    measured: false,
                    skipped: None,
                    probe: None,
                })
                .collect(),
            benches: benches
                .iter()
                .map(|b| {
                    let mut series = BTreeMap::new();
                    if b.category == Category::Memory {
                        series.insert(Kind::Bytes, vec![None; commits.len()]);
                    } else {
                        for k in &kinds {
                            series.insert(*k, vec![None; commits.len()]);
                        }
                    }
                    (
                        b.name.clone(),
                        Bench {
                            category: b.category,
                            series,
                        },
                    )
                })
                .collect(),
            changes: Vec::new(),
            notes,
            cost: Cost::default(),
            time_load: None,
        };
        let probes = pipeline(ctx, &plan, opts, &mut out)?;
        if kinds.contains(&Kind::Time) {
            let mut probes: BTreeMap<usize, (Box<dyn Probe>, BTreeSet<String>)> = probes
                .into_iter()
                .map(|(at, r)| {
                    let p = probe::Process::new(&r.exe, &ctx.root, short(&plan.commits[at].id));
                    (at, (Box::new(p) as Box<dyn Probe>, r.listed))
                })
                .collect();
            time_pass(&mut probes, plan.benches, &mut out)?;
        }
        out.cost.wall_s = started.elapsed().as_secs_f64();
        Ok(out)
    }
}

/// The benchmarks named (names or categories), in the budgets' order; all
/// of them when none is.
fn select(ctx: &Ctx, names: &[String]) -> Result<Vec<Budget>> {
    if names.is_empty() {
        return Ok(ctx.budgets.benchmarks.clone());
    }
    let mut picked = BTreeSet::new();
    for n in names {
        for b in ctx.budgets.select(Some(n))? {
            picked.insert(b.name.clone());
        }
    }
    Ok(ctx
        .budgets
        .benchmarks
        .iter()
        .filter(|b| picked.contains(&b.name))
        .cloned()
        .collect())
}

/// Stores the history under `profiles/history/` (and at `out`).
fn save(ctx: &Ctx, h: &History, out: Option<&Path>) -> Result<PathBuf> {
    let json = serde_json::to_vec_pretty(h)?;
    let dir = ctx.store.generated("history");
    let mut stem = format!("history-{}", crate::host::utc_now().0);
    if let [s] = h.shards.as_slice()
        && !h.complete()
    {
        let _ = write!(stem, "-shard-{}-of-{}", s.index, s.count);
    }
    let stem = atomic::write_unique(&dir, &stem, "json", |_| json.clone())?;
    let path = dir.join(format!("{stem}.json"));
    if let Some(o) = out {
        atomic::write(o, &json).with_context(|| format!("cannot write {}", o.display()))?;
        return Ok(o.to_path_buf());
    }
    Ok(path)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn info(i: usize) -> CommitInfo {
        CommitInfo {
            id: format!("{i:040x}"),
            subject: format!("commit {i}"),
            author: "a".into(),
            date: "2026-11-24T00:00:00Z".into(),
            relevant_files: vec!["zp/src/lib.rs".into()],
        }
    }

    /// A history of `n` commits with one benchmark whose count steps up
    /// at `step`, measured by `shard` (all when `None`).
    fn simulated(n: usize, step: usize, shard: Option<Shard>) -> History {
        let owns = |i: usize| shard.is_none_or(|s| s.owns(i));
        let values: Vec<Option<f64>> = (0..n)
            .map(|i| owns(i).then_some(if i < step { 1000.0 } else { 1200.0 }))
            .collect();
        let sizes: Vec<Option<f64>> = (0..n).map(|i| owns(i).then_some(544.0)).collect();
        History {
            schema: SCHEMA.into(),
            created: "2026-11-24T00:00:00Z".into(),
            head: info(n - 1).id,
            build_key: BuildKey::of(BTreeMap::from([("rustc".into(), "1.95".into())])),
            valgrind: Some("valgrind-3.19.0".into()),
            cpu_features: vec!["aes".into(), "avx2".into(), "avx512f".into()],
            counted_features: vec!["aes".into(), "avx2".into()],
            machine: "m1".into(),
            kinds: vec![Kind::Instructions],
            shards: shard.into_iter().collect(),
            irrelevant: 3,
            commits: (0..n)
                .map(|i| Point {
                    commit: info(i),
                    measured: owns(i),
                    skipped: None,
                    probe: owns(i).then(|| format!("p{i}")),
                })
                .collect(),
            benches: BTreeMap::from([
                (
                    "encrypt_record_64k".to_string(),
                    Bench {
                        category: Category::Datapath,
                        series: BTreeMap::from([(Kind::Instructions, values)]),
                    },
                ),
                (
                    "session_state_size".to_string(),
                    Bench {
                        category: Category::Memory,
                        series: BTreeMap::from([(Kind::Bytes, sizes)]),
                    },
                ),
            ]),
            changes: Vec::new(),
            notes: Vec::new(),
            cost: Cost {
                builds: 1,
                measurements: 2,
                cached: 0,
                wall_s: 1.0,
            },
            time_load: None,
        }
    }

    fn write(dir: &Path, name: &str, h: &History) -> PathBuf {
        let p = dir.join(name);
        std::fs::write(&p, serde_json::to_vec(h).unwrap()).unwrap();
        p
    }

    #[test]
    fn shards_split_the_commits_and_refuse_bad_specs() {
        let s = Shard::parse("2/3").unwrap();
        assert_eq!((0..7).filter(|i| s.owns(*i)).collect::<Vec<_>>(), [1, 4]);
        assert_eq!(s.to_string(), "2/3");
        for bad in ["0/3", "4/3", "3", "a/b", "1/0"] {
            assert!(Shard::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn shard_files_merge_into_the_whole_history() {
        let (dir, ctx) = crate::fixtures::temp_ctx();
        let n = 11;
        let mut whole = simulated(n, 6, None);
        whole.detect_changes();
        let files: Vec<PathBuf> = (1..=3)
            .map(|k| {
                let s = Shard { index: k, count: 3 };
                write(dir.path(), &format!("s{k}.json"), &simulated(n, 6, Some(s)))
            })
            .collect();
        let mut merged = merge(&ctx, &files).unwrap();
        merged.detect_changes();
        assert!(merged.complete());
        assert_eq!(merged.benches, whole.benches);
        assert_eq!(merged.changes, whole.changes);
        assert_eq!(merged.shards.len(), 3);
        assert_eq!(merged.changes.len(), 1, "{:?}", merged.changes);
        let c = &merged.changes[0];
        assert_eq!((c.at, c.kind), (6, Kind::Instructions));
        assert!((c.point.ratio - 1.2).abs() < 1e-12);
        assert!(
            c.commands[0].starts_with(
                "cargo xtask bisect encrypt_record_64k --good 0000000000 --bad 0000000000"
            ),
            "{:?}",
            c.commands
        );
        // Its file round-trips.
        let path = save(&ctx, &merged, None).unwrap();
        assert_eq!(load(&path).unwrap(), merged);
        assert_eq!(latest(&ctx).0.unwrap().1, merged);

        // Two of three shards: merged, with the gap said.
        let partial = merge(&ctx, &files[..2]).unwrap();
        assert!(!partial.complete());
        assert!(
            partial
                .notes
                .iter()
                .any(|n| n.contains("shards 3/3 are missing")),
            "{:?}",
            partial.notes
        );
    }

    #[test]
    fn merge_refuses_shards_that_are_not_comparable() {
        let (dir, ctx) = crate::fixtures::temp_ctx();
        let s = |k| Some(Shard { index: k, count: 2 });
        let a = write(dir.path(), "a.json", &simulated(6, 3, s(1)));
        let refused = |h: History| {
            let b = write(dir.path(), "b.json", &h);
            let err = merge(&ctx, &[a.clone(), b]).unwrap_err();
            assert!(err.is::<CannotMerge>(), "{err:#}");
            assert_eq!(crate::exit_code_of(&err), 3);
            err.to_string()
        };
        let mut other_rustc = simulated(6, 3, s(2));
        other_rustc.build_key = BuildKey::of(BTreeMap::from([("rustc".into(), "1.96".into())]));
        assert!(refused(other_rustc).contains("differs in rustc"));
        let mut other_valgrind = simulated(6, 3, s(2));
        other_valgrind.valgrind = Some("valgrind-3.22.0".into());
        assert!(refused(other_valgrind).contains("valgrind"));
        let mut no_aes = simulated(6, 3, s(2));
        no_aes.counted_features = vec!["avx2".into()];
        let err = refused(no_aes);
        assert!(err.contains("only the first: aes"), "{err}");
        assert!(refused(simulated(7, 3, s(2))).contains("different histories"));
        // A host feature valgrind does not show (AVX-512) does not matter.
        let mut no_avx512 = simulated(6, 3, s(2));
        no_avx512.cpu_features = vec!["aes".into(), "avx2".into()];
        let b = write(dir.path(), "b.json", &no_avx512);
        assert!(merge(&ctx, &[a.clone(), b]).unwrap().complete());
        // Two shards that measured one commit differently.
        let mut clash = simulated(6, 3, None);
        clash.shards = vec![Shard { index: 2, count: 2 }];
        if let Some(s) = clash
            .benches
            .get_mut("encrypt_record_64k")
            .and_then(|b| b.series.get_mut(&Kind::Instructions))
        {
            s[0] = Some(999.0);
        }
        assert!(refused(clash).contains("disagree"));
        // A damaged file names its field.
        let bad = dir.path().join("bad.json");
        std::fs::write(
            &bad,
            r#"{"schema": "zp-workbench-history/1", "created": 5}"#,
        )
        .unwrap();
        let err = merge(&ctx, &[bad]).unwrap_err();
        assert!(err.to_string().contains("`created`"), "{err}");
    }

    #[test]
    fn time_from_other_machines_is_dropped_in_a_merge() {
        let (dir, ctx) = crate::fixtures::temp_ctx();
        let timed = |k: usize, machine: &str| {
            let mut h = simulated(4, 2, Some(Shard { index: k, count: 2 }));
            h.kinds = vec![Kind::Instructions, Kind::Time];
            h.machine = machine.into();
            let owns = |i: usize| i % 2 == k - 1;
            h.benches
                .get_mut("encrypt_record_64k")
                .unwrap()
                .series
                .insert(
                    Kind::Time,
                    (0..4).map(|i| owns(i).then_some(50_000.0)).collect(),
                );
            h
        };
        let a = write(dir.path(), "a.json", &timed(1, "m1"));
        let b = write(dir.path(), "b.json", &timed(2, "m2"));
        let merged = merge(&ctx, &[a.clone(), b]).unwrap();
        assert!(merged.series("encrypt_record_64k", Kind::Time).is_none());
        assert!(
            merged
                .notes
                .iter()
                .any(|n| n.contains("different machines"))
        );
        let same = write(dir.path(), "c.json", &timed(2, "m1"));
        let merged = merge(&ctx, &[a, same]).unwrap();
        assert_eq!(
            merged.series("encrypt_record_64k", Kind::Time).unwrap(),
            [Some(50_000.0); 4]
        );
    }

    fn flags(benches: &[&str], shard: Option<Shard>, out: Option<PathBuf>) -> flags::History {
        flags::History {
            benches: benches.iter().map(|b| b.to_string()).collect(),
            since: None,
            last: None,
            until: "HEAD".into(),
            metric: HistoryMetric::Instructions,
            shard,
            merge: Vec::new(),
            out,
            explain: false,
            workers: Some(2),
            jobs: None,
            fresh: false,
        }
    }

    /// The miniature zp's history, really built and counted: the planted
    /// commit is the one change point, shards merge into the same series,
    /// and a second run is served from the caches.
    #[test]
    fn a_real_history_finds_the_planted_commit_and_shards_merge_to_it() {
        let m = crate::fixtures::mini_history(true);
        let ctx = m.ctx();
        let mut whole = flags(&["spin", "state_size"], None, None)
            .measure(&ctx)
            .unwrap();
        whole.detect_changes();
        // The README-only commits are left out; the root is measured.
        assert_eq!(whole.irrelevant, 2);
        assert_eq!(whole.commits.len(), 6);
        assert!(
            whole.commits.iter().all(|p| p.measured),
            "{:?}",
            whole.notes
        );
        let spin = whole.series("spin", Kind::Instructions).unwrap();
        let more_work = whole
            .commits
            .iter()
            .position(|p| p.commit.subject == "more work")
            .unwrap();
        assert!(spin.iter().all(Option::is_some));
        let [c] = whole.changes.as_slice() else {
            panic!("{}", render(&whole))
        };
        assert_eq!(
            (c.bench.as_str(), c.at),
            ("spin", more_work),
            "{}",
            render(&whole)
        );
        assert!(c.point.ratio > 1.8 && c.point.ratio < 2.2, "{c:?}");
        assert_eq!(
            whole.series("state_size", Kind::Bytes).unwrap(),
            [Some(64.0); 6]
        );
        // Commits whose probe is byte-identical to an earlier one's (a
        // comment at the end) are served from the measurement cache.
        assert_eq!(
            whole.cost.measurements + whole.cost.cached,
            12,
            "{:?}",
            whole.cost
        );
        assert!(whole.cost.measurements >= 4, "{:?}", whole.cost);
        m.untouched().unwrap();

        // Two shards, as two machines would run them, then merged.
        let dir = tempfile::tempdir().unwrap();
        let files: Vec<PathBuf> = (1..=2)
            .map(|k| {
                let out = dir.path().join(format!("shard-{k}.json"));
                let f = flags(
                    &["spin", "state_size"],
                    Some(Shard { index: k, count: 2 }),
                    Some(out.clone()),
                );
                f.run(&ctx).unwrap();
                out
            })
            .collect();
        let shard = load(&files[0]).unwrap();
        assert!(!shard.complete());
        assert_eq!(shard.commits.iter().filter(|p| p.measured).count(), 3);
        // Everything came from the caches the whole run filled.
        assert_eq!(
            (shard.cost.builds, shard.cost.measurements),
            (0, 0),
            "{:?}",
            shard.cost
        );
        let mut merged = merge(&ctx, &files).unwrap();
        merged.detect_changes();
        assert_eq!(merged.benches, whole.benches);
        assert_eq!(merged.changes, whole.changes);
        m.untouched().unwrap();
    }

    #[test]
    fn bad_input_is_refused_before_anything_is_built() {
        let m = crate::fixtures::mini_history(false);
        let ctx = m.ctx();
        let err = flags(&["spni"], None, None).measure(&ctx).unwrap_err();
        assert!(
            err.is::<crate::Usage>() && err.to_string().contains("did you mean `spin`"),
            "{err}"
        );
        let mut f = flags(&[], None, None);
        f.since = Some("no-such-rev".into());
        assert!(
            f.measure(&ctx)
                .unwrap_err()
                .to_string()
                .contains("unknown revision")
        );
        f.since = Some("HEAD".into());
        assert!(
            f.measure(&ctx)
                .unwrap_err()
                .to_string()
                .contains("nothing after it")
        );
        let mut f = flags(&[], None, None);
        f.until = m.ids[1].to_string();
        f.since = Some(m.ids[2].to_string());
        assert!(
            f.measure(&ctx)
                .unwrap_err()
                .to_string()
                .contains("not an ancestor")
        );
    }

    /// The time pass through fake probes (the trait object every probe is
    /// taken as): each commit's value is the median of its rounds in the
    /// thread's CPU time, the load is kept, and on a busy machine a time
    /// step is listed as "cannot decide yet" rather than claimed.
    #[test]
    fn the_time_pass_measures_through_probes_and_a_busy_machine_decides_nothing() {
        let mut h = simulated(8, 4, None);
        h.kinds.push(Kind::Time);
        h.benches
            .get_mut("encrypt_record_64k")
            .unwrap()
            .series
            .insert(Kind::Time, vec![None; 8]);
        let mut probes: BTreeMap<usize, (Box<dyn Probe>, BTreeSet<String>)> = BTreeMap::new();
        for at in 0..8 {
            let slow = if at >= 4 { 1.2 } else { 1.0 };
            let fake = crate::vcs::probe::Fake::new(move |_| {
                Ok(probe_protocol::Body::Time(probe_protocol::Time {
                    iters_per_sample: 100,
                    samples_ns: vec![2000.0 * slow; 10],
                    cpu_ns: Some(vec![1000.0 * slow; 10]),
                    wait_ns: Some(vec![1000.0 * slow; 10]),
                }))
            });
            let listed = ["encrypt_record_64k".to_string()].into();
            probes.insert(at, (Box::new(fake), listed));
        }
        let budgets = crate::fixtures::budgets();
        let benches: Vec<Budget> = vec![budgets.get("encrypt_record_64k").unwrap().clone()];
        time_pass(&mut probes, &benches, &mut h).unwrap();
        let series = h.series("encrypt_record_64k", Kind::Time).unwrap();
        assert_eq!(series[0], Some(1000.0));
        assert!((series[7].unwrap() - 1200.0).abs() < 1e-9, "{series:?}");
        let load = h.time_load.expect("the load is kept");
        assert_eq!((load.observations, load.clock), (24, Clock::Cpu));
        assert!(load.busy(), "half of every sample waited for a CPU");
        h.detect_changes();
        let time: Vec<&Change> = h.changes.iter().filter(|c| c.kind == Kind::Time).collect();
        assert_eq!(time.len(), 1, "{:?}", h.changes);
        assert!(
            time[0]
                .undecided
                .as_deref()
                .is_some_and(|w| w.contains("the machine was busy")),
            "{:?}",
            time[0]
        );
        let text = render(&h);
        assert!(
            text.contains("? cannot decide yet encrypt_record_64k time +20.0%"),
            "{text}"
        );
        assert!(
            text.contains("time measured with thread CPU time; CPU busy"),
            "{text}"
        );
    }

    #[test]
    fn rendering_names_each_change_with_its_commands() {
        let mut h = simulated(12, 5, None);
        if let Some(s) = h
            .benches
            .get_mut("encrypt_record_64k")
            .and_then(|b| b.series.get_mut(&Kind::Instructions))
        {
            for v in s.iter_mut().skip(9) {
                *v = Some(900.0);
            }
        }
        // The step up came with a commit that changed only the harness.
        h.commits[5].commit.relevant_files = vec!["zp/benches/probe.rs".into()];
        h.detect_changes();
        let harness: Vec<bool> = h.changes.iter().map(|c| c.harness_only).collect();
        assert_eq!(harness, [true, false]);
        let text = render(&h);
        insta::assert_snapshot!("history_table", text);
        assert!(
            text.contains("only the benchmark harness changed there"),
            "{text}"
        );
        assert!(
            text.contains("▲ slower encrypt_record_64k instructions +20.0%"),
            "{text}"
        );
        assert!(
            text.contains("▼ faster encrypt_record_64k instructions -25.0%"),
            "{text}"
        );
        assert!(
            text.contains("cargo xtask bisect encrypt_record_64k --good"),
            "{text}"
        );
        assert!(
            text.contains("cargo xtask flame encrypt_record_64k --rev"),
            "{text}"
        );
        assert!(text.contains("2 changes"), "{text}");
        // An improvement has nothing to bisect.
        let faster = h.changes.iter().find(|c| c.improvement()).unwrap();
        assert!(faster.commands.iter().all(|c| !c.contains("bisect")));
    }
}
