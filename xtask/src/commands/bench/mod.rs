//! `cargo xtask bench`: build the benchmarks, measure them in rounds,
//! store the run, compare it with a baseline and print the report.
//!
//! A round is one short criterion run of every selected benchmark; its
//! median is one observation (see `stats.rs` for why). Benchmarks whose
//! verdict is inconclusive get more rounds, up to `decide::MAX_ROUNDS`.
//! Allocations come from the probe under dhat, memory sizes from the probe,
//! and hotspots of a slower benchmark from the probe under pprof.
//!
//! `bench peers` (in `peers.rs`) measures zp beside rustls, Noise and the
//! raw AEAD instead.

use crate::budgets::{Budget, Category};
use crate::cli::flags;
use crate::host::{Build, Machine, utc_now};
use crate::measure::hotspots::{self, Exactly, Side};
use crate::measure::sampled;
use crate::model::decide::{self, Verdict};
use crate::model::sequential::Looks;
use crate::model::verdicts::{self, Comparison};
use crate::render::report;
use crate::storage::store::{Allocs, Measured, Run, SCHEMA, Settings, Timing};
use crate::vcs::cargo::{self, RoundShape};
use crate::vcs::probe::{self, Probe};
use crate::{Ctx, Progress, storage::atomic};
use anyhow::{Context, Result};
use std::collections::BTreeMap;
use std::path::PathBuf;

mod peers;
pub use peers::PeerInstruments;

/// What `bench` measures with: criterion rounds and the probe. The real
/// one runs built executables; tests pass a fake.
pub trait Instruments {
    /// One round of `benches` (time benchmarks of one or more categories):
    /// per benchmark, its per-iteration sample times. Calls `on_done` as
    /// each benchmark finishes.
    fn round(
        &mut self,
        benches: &[&Budget],
        on_done: &mut dyn FnMut(),
    ) -> Result<BTreeMap<String, Vec<f64>>>;
    /// The probe (allocations, sizes, hotspots).
    fn probe(&mut self) -> &mut dyn Probe;
    /// A probe built at `commit` (the baseline's, for a hotspot diff).
    fn probe_at(&mut self, ctx: &Ctx, commit: &str) -> Result<Box<dyn Probe>>;
}

impl flags::Bench {
    pub fn run(&self, ctx: &Ctx) -> Result<()> {
        if self.filter.as_deref() == Some("peers") {
            return self.run_peers(ctx);
        }
        let selected = ctx.budgets.select(self.filter.as_deref())?;
        let features = self.feature_list();
        let mut targets: Vec<&str> = Category::ALL
            .iter()
            .filter(|c| selected.iter().any(|b| b.category == **c))
            .filter_map(|c| c.criterion_target())
            .collect();
        targets.push("probe");
        // Refuse bad names and missing baselines before minutes of building.
        self.baseline(ctx)?;
        if let Some(name) = &self.save_baseline {
            crate::storage::store::Store::check_name(name)?;
        }
        eprintln!("building the bench targets ({}) …", targets.join(", "));
        let exes = cargo::build_benches_in(&ctx.root, &targets, &ctx.probe_profile, &features)?;
        let scratch = criterion_scratch(ctx, "criterion-")?;
        let mut bencher = Bencher {
            probe: probe::Process::new(&exes["probe"], &ctx.root.join("zp"), "working tree"),
            exes,
            package_dir: ctx.root.join("zp"),
            home: scratch.path().to_path_buf(),
            shape: self.shape(),
        };
        self.execute(ctx, &mut bencher)
    }

    fn feature_list(&self) -> Vec<String> {
        self.features
            .iter()
            .flat_map(|f| f.split(','))
            .map(|f| f.trim().to_string())
            .filter(|f| !f.is_empty())
            .collect()
    }

    fn shape(&self) -> RoundShape {
        if self.quick {
            RoundShape {
                warm_up_s: 0.2,
                measurement_s: 0.3,
                sample_size: 10,
            }
        } else {
            RoundShape {
                warm_up_s: 0.5,
                measurement_s: 1.0,
                sample_size: 20,
            }
        }
    }

    /// The run to compare with: the named baseline, else `main`, else the
    /// newest stored run that loads (damaged ones are skipped, each said).
    fn baseline(&self, ctx: &Ctx) -> Result<Option<(String, Run)>> {
        Ok(match &self.baseline {
            Some(name) => Some(ctx.store.resolve(name)?),
            None if ctx.store.has_baseline("main") => Some(ctx.store.resolve("main")?),
            None => {
                let (run, skipped) = ctx.store.latest_valid_run();
                for s in skipped {
                    eprintln!("warning: skipping a stored run: {s}");
                }
                run.map(|r| ("the previous run".to_string(), r))
            }
        })
    }

    /// Measures with `instruments`, stores the run and prints the report.
    pub fn execute(&self, ctx: &Ctx, instruments: &mut dyn Instruments) -> Result<()> {
        let selected = ctx.budgets.select(self.filter.as_deref())?;
        let baseline = self.baseline(ctx)?;
        if let Some(name) = &self.save_baseline {
            crate::storage::store::Store::check_name(name)?;
        }
        let features = self.feature_list();
        let shape = self.shape();
        let head = crate::vcs::git::head(&ctx.root)?;
        let (id_time, created) = utc_now();
        let id = match &head {
            Some(h) => format!(
                "{id_time}-{}{}",
                &h.commit[..7],
                if h.dirty { "-dirty" } else { "" }
            ),
            None => format!("{id_time}-nogit"),
        };
        // A build with features is named for them: `…-aws-lc`.
        let id = if features.is_empty() {
            id
        } else {
            format!("{id}-{}", features.join("+"))
        };

        let timed: Vec<&Budget> = selected
            .iter()
            .copied()
            .filter(|b| b.category != Category::Memory)
            .collect();
        let mut rounds: BTreeMap<String, Vec<Vec<f64>>> = BTreeMap::new();
        let progress = Progress::new((decide::INITIAL_ROUNDS * timed.len()) as u64, "measuring");
        for r in 0..decide::INITIAL_ROUNDS {
            progress.phase(&format!("round {}/{}", r + 1, decide::INITIAL_ROUNDS));
            add_round(instruments, &timed, &mut rounds, &progress)?;
        }
        let mut benchmarks = BTreeMap::new();
        for b in &selected {
            let m = match b.category {
                Category::Memory => Measured {
                    category: b.category,
                    time: None,
                    bytes: Some(probe::bytes(instruments.probe(), &b.name)?),
                    allocs: None,
                },
                c => Measured {
                    category: c,
                    time: Some(Timing::from_rounds(
                        rounds.get(&b.name).cloned().with_context(|| {
                            format!("criterion measured nothing for {}", b.name)
                        })?,
                    )),
                    bytes: None,
                    allocs: None,
                },
            };
            benchmarks.insert(b.name.clone(), m);
        }
        progress.finish();
        let mut run = Run {
            schema: SCHEMA.to_string(),
            id,
            created,
            commit: head.as_ref().map(|h| h.commit.clone()),
            dirty: head.as_ref().is_some_and(|h| h.dirty),
            machine: Machine::detect(),
            build: Build {
                features: features.clone(),
                ..Build::detect(&ctx.root)?
            },
            settings: Settings {
                quick: self.quick,
                warm_up_s: shape.warm_up_s,
                measurement_s: shape.measurement_s,
                sample_size: shape.sample_size,
            },
            benchmarks,
        };

        // More rounds for whatever cannot be decided yet, up to the next
        // look at a time: the verdict is looked at only at the planned
        // round counts (5, 8, 12), whose error spending assumes no others.
        let label = format!("run {}", run.id);
        let old = baseline.as_ref().map(|(l, r)| (l.as_str(), r));
        loop {
            let c = Comparison::build(&ctx.budgets, (&label, &run), old, None);
            let next = |b: &Budget| {
                let have = rounds.get(&b.name).map_or(0, Vec::len);
                (have, Looks::UNPAIRED.next_after(have))
            };
            let pending: Vec<&Budget> = c
                .inconclusive()
                .iter()
                .filter_map(|n| ctx.budgets.get(n))
                .filter(|b| next(b).1 <= decide::MAX_ROUNDS)
                .collect();
            let Some(first) = pending.first() else {
                break;
            };
            // Those with as many rounds as the first (all of them: they
            // start together and leave once decided) go to the next look.
            let (have, want) = next(first);
            let pending: Vec<&Budget> = pending.into_iter().filter(|b| next(b).0 == have).collect();
            let progress = Progress::new(
                ((want - have) * pending.len()) as u64,
                &format!("cannot decide yet, rounds {}–{want}", have + 1),
            );
            for _ in have..want {
                add_round(instruments, &pending, &mut rounds, &progress)?;
            }
            progress.finish();
            for b in &pending {
                run.benchmarks.get_mut(&b.name).expect("measured").time =
                    Some(Timing::from_rounds(rounds[&b.name].clone()));
            }
        }

        let progress = Progress::new(timed.len() as u64, "counting allocations");
        for b in &timed {
            progress.phase(&b.name);
            // Handshakes allocate per message and run slowly under dhat.
            let iters = if b.category == Category::Handshake {
                10
            } else {
                100
            };
            let a = probe::alloc(instruments.probe(), &b.name, iters, None)?;
            run.benchmarks.get_mut(&b.name).expect("measured").allocs =
                Some(Allocs::from_probe(&a));
            progress.inc();
        }
        progress.finish();

        // Stored first: the run id it gets names the reports.
        let path = ctx.store.save_run(&mut run)?;
        let label = format!("run {}", run.id);
        let mut comparison = Comparison::build(&ctx.budgets, (&label, &run), old, None);
        let recent: Vec<Run> = ctx
            .store
            .recent_runs(crate::storage::store::TREND_RUNS)
            .into_iter()
            .filter(|r| r.comparable(&run))
            .collect();
        for row in &mut comparison.rows {
            row.trend = recent.iter().map(|r| r.headline(&row.name)).collect();
        }
        let slower: Vec<String> = comparison
            .rows
            .iter()
            .filter(|r| {
                r.decision
                    .is_some_and(|d| matches!(d.verdict, Verdict::Warning | Verdict::Regression))
            })
            .map(|r| r.name.clone())
            .collect();
        if !slower.is_empty() {
            // What changed, not what is always hot: the same routine at the
            // baseline's commit (built outside the checkout, cached), when
            // the baseline names one it measured unchanged.
            let mut before: Result<Box<dyn Probe>, String> = match old.map(|(_, r)| r) {
                Some(r) if r.dirty => Err(
                    "absolute shares: the baseline was measured with uncommitted changes, so its code cannot be rebuilt for a diff".into(),
                ),
                Some(Run {
                    commit: Some(c), ..
                }) => instruments
                    .probe_at(ctx, c)
                    .map_err(|e| format!("absolute shares: the baseline's commit could not be profiled: {e:#}")),
                _ => Err("absolute shares: the baseline names no commit".into()),
            };
            crate::process::check()?;
            let progress = Progress::new(slower.len() as u64, "profiling what got slower");
            let mut exactly = Exactly::new(&ctx.store.cache().join("measurements"));
            for row in comparison
                .rows
                .iter_mut()
                .filter(|r| slower.contains(&r.name))
            {
                progress.phase(&row.name);
                let time_change = row.decision.map(|d| d.change());
                let result = match &mut before {
                    Ok(b) => hotspots::explain(
                        exactly.as_mut(),
                        Side {
                            probe: b.as_mut(),
                            id: String::new(),
                        },
                        Side {
                            probe: instruments.probe(),
                            id: String::new(),
                        },
                        &row.name,
                        time_change,
                        3,
                    )
                    .map(|d| {
                        row.hotspots = verdicts::hotspot_changes(&d.changes);
                        row.hotspot_notes = d.notes;
                        row.hotspot_instrument = Some(d.instrument);
                    }),
                    Err(why) => sampled::sample(instruments.probe(), &row.name, 3.0).map(|after| {
                        row.hotspots = verdicts::hotspots(&after.profile, 3);
                        row.hotspot_notes = vec![why.clone()];
                        row.hotspot_notes.extend(after.notes());
                    }),
                };
                if let Err(e) = result {
                    crate::process::check()?;
                    progress.note(&format!("no hotspots for {}: {e:#}", row.name));
                }
                progress.inc();
            }
            progress.finish();
            comparison.refresh_recommendations(&run, old.map(|(_, r)| r));
        }

        let mut stored = vec![path.display().to_string()];
        if let Some(name) = &self.save_baseline {
            stored.push(ctx.store.save_baseline(name, &run)?.display().to_string());
        }
        let reports = ctx.store.reports();
        let md = reports.join(format!("{}.md", run.id));
        atomic::write(
            &md,
            report::render(&comparison, flags::Format::Markdown).as_bytes(),
        )?;
        atomic::write(
            &reports.join(format!("{}.json", run.id)),
            report::render(&comparison, flags::Format::Json).as_bytes(),
        )?;
        stored.push(md.display().to_string());
        print!("{}", report::render(&comparison, self.format));
        for c in &comparison.cautions {
            eprintln!("CAUTION: {c}");
        }
        eprintln!("stored: {}", stored.join(", "));
        Ok(())
    }
}

/// Criterion's results go to a scratch folder of this process's own,
/// under the target directory in force: two runs at once never share one,
/// and `target/criterion` is left alone.
fn criterion_scratch(ctx: &Ctx, prefix: &str) -> Result<tempfile::TempDir> {
    let xtask_dir = ctx.target_dir()?.join("xtask");
    std::fs::create_dir_all(&xtask_dir)
        .with_context(|| format!("cannot create {}", xtask_dir.display()))?;
    tempfile::Builder::new()
        .prefix(prefix)
        .tempdir_in(&xtask_dir)
        .with_context(|| format!("cannot create a scratch folder in {}", xtask_dir.display()))
}

fn add_round(
    instruments: &mut dyn Instruments,
    benches: &[&Budget],
    rounds: &mut BTreeMap<String, Vec<Vec<f64>>>,
    progress: &Progress,
) -> Result<()> {
    let samples = instruments.round(benches, &mut || progress.inc())?;
    for (name, s) in samples {
        rounds.entry(name).or_default().push(s);
    }
    Ok(())
}

/// The built executables and how to run them.
struct Bencher {
    exes: BTreeMap<String, PathBuf>,
    probe: probe::Process,
    package_dir: PathBuf,
    /// This process's criterion scratch folder.
    home: PathBuf,
    shape: RoundShape,
}

impl Instruments for Bencher {
    /// One round of `benches`, grouped by criterion target.
    fn round(
        &mut self,
        benches: &[&Budget],
        on_done: &mut dyn FnMut(),
    ) -> Result<BTreeMap<String, Vec<f64>>> {
        let mut out = BTreeMap::new();
        for c in Category::ALL {
            let names: Vec<&str> = benches
                .iter()
                .filter(|b| b.category == c)
                .map(|b| b.name.as_str())
                .collect();
            let Some(target) = c.criterion_target() else {
                continue;
            };
            if names.is_empty() {
                continue;
            }
            out.extend(cargo::criterion_round(
                &self.exes[target],
                &self.package_dir,
                target,
                &names,
                self.shape,
                &self.home,
                &mut *on_done,
            )?);
        }
        Ok(out)
    }

    fn probe(&mut self) -> &mut dyn Probe {
        &mut self.probe
    }

    fn probe_at(&mut self, ctx: &Ctx, commit: &str) -> Result<Box<dyn Probe>> {
        Ok(Box::new(crate::storage::builds::probe_for(
            ctx,
            Some(commit),
        )?))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use probe_protocol::{Body, Instrument};

    /// Criterion rounds from a closure and a fake probe.
    struct Fake {
        time: Box<dyn FnMut(&str) -> f64>,
        probe: crate::vcs::probe::Fake,
    }

    impl Instruments for Fake {
        fn round(
            &mut self,
            benches: &[&Budget],
            on_done: &mut dyn FnMut(),
        ) -> Result<BTreeMap<String, Vec<f64>>> {
            Ok(benches
                .iter()
                .map(|b| {
                    on_done();
                    let t = (self.time)(&b.name);
                    (b.name.clone(), vec![t * 0.99, t, t * 1.01])
                })
                .collect())
        }
        fn probe(&mut self) -> &mut dyn Probe {
            &mut self.probe
        }
        fn probe_at(&mut self, _: &Ctx, commit: &str) -> Result<Box<dyn Probe>> {
            let mut p = probe_at_baseline();
            p.origin = commit.to_string();
            Ok(Box::new(p))
        }
    }

    /// The baseline's probe: all the time in the AEAD.
    fn probe_at_baseline() -> crate::vcs::probe::Fake {
        crate::vcs::probe::Fake::new(|req| match &req.instrument {
            Instrument::Pprof { seconds, .. } => Ok(Body::Pprof(probe_protocol::Pprof {
                iters: 150,
                seconds: *seconds,
                frequency: 250,
                samples: 10,
                folded: vec!["zp_probe_measured;zp::rustcrypto::seal_in_place 10".into()],
                samples_total: Some(10),
                cpu_seconds: Some(0.04),
            })),
            other => anyhow::bail!("not asked: {other:?}"),
        })
    }

    fn fake(time: impl FnMut(&str) -> f64 + 'static) -> Fake {
        Fake {
            time: Box::new(time),
            probe: crate::vcs::probe::Fake::new(|req| {
                Ok(match &req.instrument {
                    Instrument::Alloc { iters, .. } => crate::fixtures::no_allocations(*iters),
                    Instrument::Time { .. } => Body::Bytes(probe_protocol::Bytes { bytes: 544 }),
                    Instrument::Pprof { seconds, .. } => Body::Pprof(probe_protocol::Pprof {
                        iters: 100,
                        seconds: *seconds,
                        frequency: 250,
                        samples: 10,
                        folded: vec![
                            "zp_probe_measured;zp::rustcrypto::seal_in_place 7".into(),
                            "zp_probe_measured;zp::record::seal_in_place 3".into(),
                        ],
                        samples_total: Some(10),
                        cpu_seconds: Some(0.04),
                    }),
                    other => anyhow::bail!("not asked: {other:?}"),
                })
            }),
        }
    }

    fn bench(filter: &str) -> flags::Bench {
        flags::Bench {
            filter: Some(filter.into()),
            save_baseline: None,
            baseline: None,
            quick: true,
            features: None,
            format: flags::Format::Json,
        }
    }

    #[test]
    fn a_damaged_previous_run_does_not_stop_bench_and_a_damaged_baseline_is_exit_3() {
        let (dir, ctx) = crate::fixtures::temp_ctx();
        bench("encrypt_record")
            .execute(&ctx, &mut fake(|_| 2000.0))
            .unwrap();
        let first = ctx.store.run_ids();
        assert_eq!(first.len(), 1);
        // The newest run is truncated: the next bench compares with the one
        // before it and says it skipped the damaged one.
        let damaged = dir
            .path()
            .join("profiles/runs/99999999-999999-damaged.json");
        std::fs::write(&damaged, "{\"schema\": \"zp-workbench-run/1\", \"id\"").unwrap();
        bench("encrypt_record")
            .execute(&ctx, &mut fake(|_| 2000.0))
            .unwrap();
        assert_eq!(ctx.store.run_ids().len(), 3);
        // Named explicitly, a damaged run is an error that names it.
        ctx.store
            .save_baseline("main", &crate::fixtures::suite("r", "c", 1.0, 0.0))
            .unwrap();
        std::fs::write(dir.path().join("profiles/baselines/main.json"), "{}").unwrap();
        let err = bench("encrypt_record")
            .execute(&ctx, &mut fake(|_| 2000.0))
            .unwrap_err();
        assert!(err.is::<crate::storage::store::Corrupt>(), "{err:#}");
        assert!(
            err.to_string()
                .contains("main.json is not a zp workbench run"),
            "{err}"
        );
        assert_eq!(crate::exit_code_of(&err), 3);
    }

    #[test]
    fn two_runs_in_one_second_get_distinct_ids_and_reports() {
        let (_dir, ctx) = crate::fixtures::temp_ctx();
        for _ in 0..3 {
            bench("memory").execute(&ctx, &mut fake(|_| 1.0)).unwrap();
        }
        let ids = ctx.store.run_ids();
        assert_eq!(ids.len(), 3, "{ids:?}");
        let reports: Vec<_> = std::fs::read_dir(ctx.store.reports())
            .unwrap()
            .flatten()
            .filter(|e| e.path().extension().is_some_and(|x| x == "md"))
            .collect();
        assert_eq!(reports.len(), 3);
    }

    #[test]
    fn a_slowdown_is_profiled_and_reported() {
        let (_dir, ctx) = crate::fixtures::temp_ctx();
        let mut b = bench("encrypt_record_64k");
        b.save_baseline = Some("main".into());
        b.execute(&ctx, &mut fake(|_| 40_000.0)).unwrap();
        b.save_baseline = None;
        // Without a commit in the baseline there is nothing to diff with.
        b.execute(&ctx, &mut fake(|_| 60_000.0)).unwrap();
        let latest = ctx.store.run_ids().pop().unwrap();
        let report =
            std::fs::read_to_string(ctx.store.reports().join(format!("{latest}.md"))).unwrap();
        assert!(
            report.contains("(absolute shares: the baseline names no commit)"),
            "{report}"
        );
        // The baseline measured a commit: the slower routine is diffed
        // against that commit's.
        let (_, mut main) = ctx.store.resolve("main").unwrap();
        main.commit = Some("1111111111aaaaaaaaaa".into());
        ctx.store.save_baseline("main", &main).unwrap();
        let mut f = fake(|_| 60_000.0);
        b.execute(&ctx, &mut f).unwrap();
        let latest = ctx.store.run_ids().pop().unwrap();
        let json = ctx.store.reports().join(format!("{latest}.json"));
        let c: serde_json::Value = serde_json::from_slice(&std::fs::read(json).unwrap()).unwrap();
        let row = &c["rows"][0];
        assert_eq!(row["decision"]["verdict"], "REGRESSION", "{c:#}");
        // A diff against the baseline's commit: what grew is on top.
        assert_eq!(
            row["hotspots"][0]["function"], "zp::record::seal_in_place",
            "{row:#}"
        );
        assert_eq!(row["hotspots"][0]["growth"]["before_pct"], 0.0, "{row:#}");
        let md = std::fs::read_to_string(ctx.store.reports().join(format!("{latest}.md"))).unwrap();
        assert!(
            md.contains(
                "1. zp::record::seal_in_place - 0% → 30% of time (+45.0% of the baseline's time)"
            ),
            "{md}"
        );
        assert!(
            f.probe.calls.iter().any(|r| r.instrument.name() == "pprof"),
            "the slower benchmark was sampled"
        );
    }
}
