//! `cargo xtask bench`: build the benchmarks, measure them in rounds,
//! store the run, compare it with a baseline and print the report.
//!
//! A round is one short criterion run of every selected benchmark; its
//! median is one observation (see `stats.rs` for why). Benchmarks whose
//! verdict is inconclusive get more rounds, up to `stats::MAX_ROUNDS`.
//! Allocations come from the probe under dhat, memory sizes from the probe,
//! and hotspots of a slower benchmark from the probe under pprof.

use crate::budgets::{Budget, Category};
use crate::cargo::{self, RoundShape};
use crate::flags;
use crate::host::{Build, Machine, utc_now};
use crate::report;
use crate::stats::{self, Verdict};
use crate::store::{Allocs, Measured, Run, SCHEMA, Settings, Timing};
use crate::verdicts::{self, Comparison};
use crate::{Ctx, Progress};
use anyhow::{Context, Result};
use std::collections::BTreeMap;
use std::path::PathBuf;

impl flags::Bench {
    pub fn run(&self, ctx: &Ctx) -> Result<()> {
        let selected = ctx.budgets.select(self.filter.as_deref())?;
        // Resolve the baseline before measuring, so a typo costs nothing.
        let baseline = match &self.baseline {
            Some(name) => Some(ctx.store.resolve(name)?),
            None if ctx.store.has_baseline("main") => Some(ctx.store.resolve("main")?),
            None => match ctx.store.run_ids().last() {
                Some(id) => Some(
                    ctx.store
                        .resolve(id)
                        .map(|(_, r)| ("the previous run".to_string(), r))?,
                ),
                None => None,
            },
        };
        if let Some(name) = &self.save_baseline {
            // Validate the name now rather than after minutes of measuring.
            crate::store::Store::check_name(name)?;
        }
        let shape = if self.quick {
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
        };
        let head = crate::git::head(&ctx.root)?;
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
        let id = match self.features.as_deref().map(str::trim) {
            Some(f) if !f.is_empty() => format!("{id}-{}", f.replace([',', ' '], "+")),
            _ => id,
        };

        let mut targets: Vec<&str> = Category::ALL
            .iter()
            .filter(|c| selected.iter().any(|b| b.category == **c))
            .filter_map(|c| c.criterion_target())
            .collect();
        targets.push("probe");
        eprintln!("building the bench targets ({}) …", targets.join(", "));
        let features: Vec<String> = self
            .features
            .iter()
            .flat_map(|f| f.split(','))
            .map(|f| f.trim().to_string())
            .filter(|f| !f.is_empty())
            .collect();
        let exes = cargo::build_benches(&ctx.root, &targets, &features)?;
        let bench = Bencher {
            exes,
            package_dir: ctx.root.join("zp"),
            home: ctx.root.join("target/xtask/criterion"),
            shape,
        };

        let timed: Vec<&Budget> = selected
            .iter()
            .copied()
            .filter(|b| b.category != Category::Memory)
            .collect();
        let mut rounds: BTreeMap<String, Vec<Vec<f64>>> = BTreeMap::new();
        let progress = Progress::new((stats::INITIAL_ROUNDS * timed.len()) as u64, "measuring");
        for r in 0..stats::INITIAL_ROUNDS {
            progress.phase(&format!("round {}/{}", r + 1, stats::INITIAL_ROUNDS));
            bench.round(&timed, &mut rounds, &progress)?;
        }
        let mut benchmarks = BTreeMap::new();
        for b in &selected {
            let m = match b.category {
                Category::Memory => Measured {
                    category: b.category,
                    time: None,
                    bytes: Some(bench.bytes(&b.name)?),
                    allocs: None,
                },
                c => Measured {
                    category: c,
                    time: Some(Timing::from_rounds(rounds[&b.name].clone())),
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

        // More rounds for whatever is still inconclusive.
        let label = format!("run {}", run.id);
        let old = baseline.as_ref().map(|(l, r)| (l.as_str(), r));
        loop {
            let c = Comparison::build(&ctx.budgets, (&label, &run), old, None);
            let pending: Vec<&Budget> = c
                .inconclusive()
                .iter()
                .filter_map(|n| ctx.budgets.get(n))
                .collect();
            let done = rounds.values().map(Vec::len).min().unwrap_or(0);
            if pending.is_empty()
                || pending
                    .iter()
                    .all(|b| rounds[&b.name].len() >= stats::MAX_ROUNDS)
                || done == 0
            {
                break;
            }
            let progress = Progress::new(pending.len() as u64, "inconclusive, one more round");
            bench.round(&pending, &mut rounds, &progress)?;
            progress.finish();
            for b in &pending {
                run.benchmarks.get_mut(&b.name).expect("measured").time =
                    Some(Timing::from_rounds(rounds[&b.name].clone()));
            }
        }

        let progress = Progress::new(timed.len() as u64, "counting allocations");
        for b in &timed {
            progress.phase(&b.name);
            run.benchmarks.get_mut(&b.name).expect("measured").allocs = bench.allocs(b)?;
            progress.inc();
        }
        progress.finish();

        let mut comparison = Comparison::build(&ctx.budgets, (&label, &run), old, None);
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
            let progress = Progress::new(slower.len() as u64, "profiling what got slower");
            for row in comparison
                .rows
                .iter_mut()
                .filter(|r| slower.contains(&r.name))
            {
                progress.phase(&row.name);
                match bench.hotspots(ctx, &row.name, if self.quick { 1.0 } else { 3.0 }) {
                    Ok(h) => row.hotspots = h,
                    Err(e) => progress.note(&format!("no hotspots for {}: {e:#}", row.name)),
                }
                progress.inc();
            }
            progress.finish();
            comparison.refresh_recommendations(&run, old.map(|(_, r)| r));
        }

        let path = ctx.store.save_run(&run)?;
        let mut stored = vec![path.display().to_string()];
        if let Some(name) = &self.save_baseline {
            stored.push(ctx.store.save_baseline(name, &run)?.display().to_string());
        }
        let reports = ctx.store.reports();
        std::fs::create_dir_all(&reports)
            .with_context(|| format!("cannot create {}", reports.display()))?;
        let md = reports.join(format!("{}.md", run.id));
        std::fs::write(&md, report::render(&comparison, flags::Format::Markdown))?;
        std::fs::write(
            reports.join(format!("{}.json", run.id)),
            report::render(&comparison, flags::Format::Json),
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

/// The built executables and how to run them.
struct Bencher {
    exes: BTreeMap<String, PathBuf>,
    package_dir: PathBuf,
    home: PathBuf,
    shape: RoundShape,
}

impl Bencher {
    /// One round of `benches`, grouped by criterion target.
    fn round(
        &self,
        benches: &[&Budget],
        rounds: &mut BTreeMap<String, Vec<Vec<f64>>>,
        progress: &Progress,
    ) -> Result<()> {
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
            let samples = cargo::criterion_round(
                &self.exes[target],
                &self.package_dir,
                target,
                &names,
                self.shape,
                &self.home,
                || progress.inc(),
            )?;
            for (name, s) in samples {
                rounds.entry(name).or_default().push(s);
            }
        }
        Ok(())
    }

    fn probe(&self, args: &[&str]) -> Result<serde_json::Value> {
        cargo::probe(&self.exes["probe"], &self.package_dir, args)
    }

    fn bytes(&self, name: &str) -> Result<u64> {
        let v = self.probe(&["run", name, "--instrument", "time"])?;
        v["bytes"]
            .as_u64()
            .with_context(|| format!("the probe reported no bytes for {name}"))
    }

    /// Allocations per iteration under dhat. Handshakes allocate per
    /// message and run slowly under dhat, so they get fewer iterations.
    fn allocs(&self, b: &Budget) -> Result<Option<Allocs>> {
        let iters = if b.category == Category::Handshake {
            "10"
        } else {
            "100"
        };
        let v = self.probe(&["run", &b.name, "--instrument", "alloc", "--iters", iters])?;
        Ok(Some(Allocs::from_probe(&v)?))
    }

    fn hotspots(&self, ctx: &Ctx, name: &str, seconds: f64) -> Result<Vec<verdicts::Hotspot>> {
        let profile = crate::flame::sample(ctx, &self.exes["probe"], name, seconds)?;
        Ok(verdicts::hotspots(&profile, 3))
    }
}
