//! `cargo xtask ci --base REV [--head REV]`: the gate a pull request
//! passes, built for a noisy shared runner.
//!
//! Base and head are built outside the checkout with the bisect's builder
//! (cached), then measured against each other through the measurement
//! layer: every benchmark's exact instruction count under callgrind
//! (cached by probe fingerprint, like a bisect's), and time in paired
//! rounds, base and head in a random order each round, judged at the looks
//! of `sequential.rs` (their error rates hold over every look; a busy
//! machine gets a larger budget).
//!
//! The decision is the instruction count's: it does not wander, so a rise
//! past the category's *warning* tier is a certain rise of that size and
//! fails the gate (time's tiers were set for a figure that wanders ±8 %
//! between rounds here). Time is the second opinion, with three outcomes:
//! *slower* past the *failure* tier with instructions rising too fails the
//! gate; *slower* past the warning tier with flat counts is a warning (a
//! cache or layout effect the counts cannot see); *cannot decide yet* is
//! said in the row, never read as "no change". Memory sizes are exact and
//! follow the instruction rule. Without valgrind, time decides alone, and a
//! benchmark it cannot decide is INCONCLUSIVE (exit 7 when nothing
//! regressed).
//!
//! Output: a Markdown comment (one table sorted by severity, every non-PASS
//! benchmark expanded in `<details>` with its hotspot diff, exact where the
//! counts moved, callgrind's simulated caches and branches, and the exact
//! bisect and flame commands), `gate.json`, and `bmf.json` (Bencher Metric
//! Format). Exit 0 pass, 1 regression, 3 cannot compare, 7 cannot decide.

use crate::budgets::{Budget, Category, Thresholds};
use crate::measure::exact::{self, Simulated};
use crate::measure::hotspots::{self, Exactly, Instrument, Side};
use crate::model::decide::{self, Verdict};
use crate::model::observation::{Clock, Load, Observation};
use crate::model::sequential::{self, Judgement, Outcome as Said, RoundBudget, pct};
use crate::rng::Rng;
use crate::stacks::Change;
use crate::stats::median;
use crate::storage::builds::{self, Builder, Built};
use crate::storage::measurements::{self, CALLGRIND_ITERS, Key};
use crate::units::{fmt_ns, short};
use crate::vcs::git::{self, CommitInfo};
use crate::vcs::probe::{self, Probe};
use crate::{CannotCompare, Regressed};
use crate::{Ctx, Progress, cli::flags, storage::atomic};
use anyhow::{Context, Result, bail};
use serde::Serialize;
use std::collections::BTreeMap;
use std::fmt::Write;
use std::time::Instant;

mod comment;
mod measuring;
mod policy;

use comment::*;
use measuring::*;
use policy::*;

/// The two sides, in the order the arrays below hold them.
const BASE: usize = 0;
const HEAD: usize = 1;

/// One benchmark's evidence and verdict.
#[derive(Debug, Clone, Serialize)]
pub struct Row {
    pub name: String,
    pub category: Category,
    /// Instructions per iteration, base and head (exact).
    pub instructions: Option<[f64; 2]>,
    /// Time per paired round, base and head (in `Gate::load`'s clock).
    pub time: Option<[Vec<f64>; 2]>,
    /// Head against base in time, at the category's warning tier.
    pub judgement: Option<Judgement>,
    /// A first comparison that found a slowdown the counts do not explain
    /// and that a second, independent one did not confirm.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub unconfirmed: Option<Judgement>,
    /// Memory sizes, base and head.
    pub bytes: Option<[u64; 2]>,
    pub verdict: Verdict,
    /// Why, in one line.
    pub why: String,
    pub hotspots: Vec<Change>,
    pub hotspot_notes: Vec<String>,
    pub hotspot_instrument: Option<Instrument>,
    /// Callgrind's simulated caches and branches, base and head.
    pub simulated: Option<[Simulated; 2]>,
}

impl Row {
    fn instr_change(&self) -> Option<f64> {
        self.instructions.map(|[b, h]| h / b - 1.0)
    }
}

/// The gate's whole answer.
#[derive(Debug, Clone, Serialize)]
pub struct Gate {
    pub base: CommitInfo,
    pub head: CommitInfo,
    /// `valgrind --version`, when instruction counts decided.
    pub valgrind: Option<String>,
    /// Paired time rounds taken (the most any benchmark got).
    pub rounds: usize,
    pub rows: Vec<Row>,
    pub only_in_base: Vec<String>,
    pub only_in_head: Vec<String>,
    /// How busy the machine was over every time observation.
    pub load: Option<Load>,
    pub wall_s: f64,
}

impl Gate {
    pub fn regressions(&self) -> usize {
        self.count(Verdict::Regression)
    }

    pub fn count(&self, v: Verdict) -> usize {
        self.rows.iter().filter(|r| r.verdict == v).count()
    }
}

impl flags::Ci {
    pub fn run(&self, ctx: &Ctx) -> Result<()> {
        let started = Instant::now();
        let benches = ctx.budgets.select(self.only.as_deref())?;
        let repo = git::open(&ctx.root)?;
        let (base, head) = (
            git::info(&repo, git::resolve(&repo, &self.base)?)?,
            git::info(&repo, git::resolve(&repo, &self.head)?)?,
        );
        let out_dir = match &self.out {
            Some(d) => d.clone(),
            None => ctx
                .store
                .reports()
                .join(format!("ci-{}", crate::host::utc_now().0)),
        };
        let mut builder = Builder::new(ctx, &repo, builds::Options::probe(ctx, self.jobs, false))?;
        let mut binaries = Vec::new();
        for (which, c) in [("base", &base), ("head", &head)] {
            eprintln!(
                "building the probe of the {which}, {} {} …",
                short(&c.id),
                c.subject
            );
            match builder.probe(&c.id)? {
                Built::Ready(b) => binaries.push(b),
                Built::Broken(why) => {
                    bail!(CannotCompare(format!("the {which} {} {why}", short(&c.id))))
                }
            }
        }
        let mut base_probe = probe::Process::new(&binaries[0].exe, &ctx.root, short(&base.id));
        let mut head_probe = probe::Process::new(&binaries[1].exe, &ctx.root, short(&head.id));
        let valgrind = measurements::valgrind_version();
        if valgrind.is_none() {
            eprintln!(
                "valgrind is not installed (scripts/install-tools.sh installs it): deciding on time only"
            );
        }
        let mut exactly = Exactly::new(&ctx.store.cache().join("measurements"));
        let fingerprints = [
            binaries[0].fingerprint.clone(),
            binaries[1].fingerprint.clone(),
        ];
        eprintln!("machine now: {}", crate::measure::load::describe_now());
        let Measured {
            rows,
            rounds,
            only_in_base,
            only_in_head,
            load,
        } = measure(
            &mut [&mut base_probe, &mut head_probe],
            &benches,
            &ctx.budgets,
            &Options {
                rounds: self.rounds as usize,
                valgrind: valgrind.clone(),
                hotspots: true,
            },
            exactly.as_mut().map(|ex| (ex, fingerprints)),
        )?;
        let gate = Gate {
            base,
            head,
            valgrind,
            rounds,
            rows,
            only_in_base,
            only_in_head,
            load,
            wall_s: started.elapsed().as_secs_f64(),
        };
        let text = comment(&gate);
        std::fs::create_dir_all(&out_dir)
            .with_context(|| format!("cannot create {}", out_dir.display()))?;
        atomic::write(&out_dir.join("comment.md"), text.as_bytes())?;
        atomic::write(
            &out_dir.join("gate.json"),
            &serde_json::to_vec_pretty(&gate)?,
        )?;
        atomic::write(
            &out_dir.join("bmf.json"),
            &serde_json::to_vec_pretty(&bmf(&gate))?,
        )?;
        print!("{text}");
        eprintln!("stored: {}", out_dir.join("comment.md").display());
        let n = gate.regressions();
        if n > 0 {
            bail!(Regressed(n));
        }
        let undecided = gate.count(Verdict::Inconclusive);
        if undecided > 0 {
            bail!(crate::CannotDecide(format!(
                "time cannot decide {undecided} benchmark(s) on this machine and there are no instruction counts: see the comment for each interval"
            )));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use probe_protocol::{Body, Instrument};

    const DATAPATH: Thresholds = Thresholds {
        warning: 0.10,
        failure: 0.25,
    };

    /// Twelve paired rounds that wobble by up to ±3 %, judged at the
    /// second look (12 rounds) against the datapath warning tier.
    fn judged(base: f64, head: f64) -> Judgement {
        let wobble = [
            0.0, 0.02, -0.01, 0.03, -0.02, 0.01, -0.03, 0.0, 0.015, -0.015, 0.025, -0.005,
        ];
        let b: Vec<f64> = wobble.iter().map(|w| base * (1.0 + w)).collect();
        let h: Vec<f64> = wobble.iter().map(|w| head * (1.0 - w)).collect();
        let level = sequential::Looks::level(2);
        Judgement::of(sequential::paired(&b, &h, level), 12, 2, DATAPATH.warning)
    }

    #[test]
    fn exact_counts_decide_and_time_is_the_second_opinion() {
        let c = Category::Datapath;
        let decide = |i: Option<[f64; 2]>, t: Judgement| decide(DATAPATH, c, i, &t).0;
        // (instructions base → head, time base → head, verdict): 12 % more
        // instructions fails whatever time says; a significant 30 % time
        // rise fails with instructions up, and is only a warning with them
        // flat; 6 % more instructions is certain but under the tier; and
        // without counts, time decides with the tiers.
        let cases = [
            (Some([100.0, 112.0]), (100.0, 100.0), Verdict::Regression),
            (Some([100.0, 101.0]), (100.0, 130.0), Verdict::Regression),
            (Some([100.0, 100.0]), (100.0, 130.0), Verdict::Warning),
            (Some([100.0, 106.0]), (100.0, 100.0), Verdict::Warning),
            (Some([100.0, 100.0]), (100.0, 103.0), Verdict::Pass),
            (Some([100.0, 80.0]), (100.0, 100.0), Verdict::Improvement),
            (None, (100.0, 130.0), Verdict::Regression),
            (None, (100.0, 115.0), Verdict::Warning),
        ];
        for (instructions, (base, head), want) in cases {
            assert_eq!(
                decide(instructions, judged(base, head)),
                want,
                "{instructions:?}, time {base} → {head}"
            );
        }
        let (_, why) = super::decide(DATAPATH, c, None, &judged(100.0, 130.0));
        assert!(why.contains("no instruction counts"), "{why}");
        // Time that cannot decide is said so: INCONCLUSIVE without counts,
        // and in the reason beside exact counts.
        let undecided = Judgement::of(
            sequential::Interval {
                estimate: 1.06,
                low: 0.95,
                high: 1.18,
            },
            27,
            4,
            DATAPATH.warning,
        );
        let (v, why) = super::decide(DATAPATH, c, None, &undecided);
        assert_eq!(v, Verdict::Inconclusive);
        assert!(
            why.starts_with(
                "time cannot decide yet: +6.0% (98% interval -5.0% to +18.0%, 27 rounds)"
            ),
            "{why}"
        );
        let (v, why) = super::decide(DATAPATH, c, Some([100.0, 100.0]), &undecided);
        assert_eq!(v, Verdict::Pass);
        assert!(
            why.contains("instructions +0.0%, time cannot decide: +6.0%"),
            "{why}"
        );
    }

    /// Two fake probes: the head's `encrypt_record_1k` runs `slower` more
    /// instructions and time, with its extra time in `zp::record::seal`.
    fn sides(slower: f64) -> [crate::vcs::probe::Fake; 2] {
        [1.0, slower].map(|factor| {
            crate::vcs::probe::Fake::new(move |req| {
                let f = if req.bench == "encrypt_record_1k" {
                    factor
                } else {
                    1.0
                };
                Ok(match &req.instrument {
                    Instrument::Callgrind { iters } => Body::Callgrind(probe_protocol::Callgrind {
                        iters: *iters,
                        instructions_total: (12_000.0 * f) as u64 * iters,
                        instructions_per_iter: 12_000.0 * f,
                    }),
                    Instrument::Time { samples, .. } => {
                        if req.bench.ends_with("_size") {
                            Body::Bytes(probe_protocol::Bytes { bytes: 544 })
                        } else {
                            Body::Time(probe_protocol::Time {
                                iters_per_sample: 100,
                                samples_ns: (0..*samples)
                                    .map(|i| 2000.0 * f + f64::from(i))
                                    .collect(),
                                cpu_ns: None,
                                wait_ns: None,
                            })
                        }
                    }
                    Instrument::Pprof { seconds, .. } => {
                        let extra = ((f - 1.0) * 1000.0) as u64;
                        let mut folded = vec![
                            "zp_probe_measured;zp::rustcrypto::seal_in_place 1000".to_string(),
                        ];
                        if extra > 0 {
                            folded
                                .push(format!("zp_probe_measured;zp::record::seal;memcpy {extra}"));
                        }
                        Body::Pprof(probe_protocol::Pprof {
                            iters: (1000.0 / f) as u64,
                            seconds: *seconds,
                            frequency: 250,
                            samples: 1000 + extra,
                            folded,
                            samples_total: Some(1000 + extra),
                            cpu_seconds: Some(*seconds),
                        })
                    }
                    other => anyhow::bail!("not asked: {other:?}"),
                })
            })
            .with_callgrind(move |bench, _| {
                let f = if bench == "encrypt_record_1k" { factor } else { 1.0 };
                let seal = (1000.0 * (f - 1.0) * 12.0) as u64;
                Ok(format!(
                    "events: Ir\nfn=(1) zp::rustcrypto::seal_in_place'zp_probe_measured\n1 120000\nfn=(2) zp::record::seal'zp_probe_measured\n1 {}\n",
                    seal.max(1)
                ))
            })
        })
    }

    fn gate(slower: f64) -> Gate {
        let budgets = crate::fixtures::budgets();
        let benches = budgets.select(Some("record")).unwrap();
        let mut benches = benches;
        benches.push(budgets.get("connection_state_size").unwrap());
        let [mut b, mut h] = sides(slower);
        let dir = tempfile::tempdir().unwrap();
        let mut ex = Exactly {
            cache: measurements::Cache::new(dir.path()),
            valgrind: "valgrind-3.19.0".into(),
            cpu: String::new(),
        };
        let Measured {
            rows,
            rounds,
            only_in_base,
            only_in_head,
            load,
        } = measure(
            &mut [&mut b, &mut h],
            &benches,
            &budgets,
            &Options {
                rounds: 12,
                valgrind: Some("valgrind-3.19.0".into()),
                hotspots: true,
            },
            Some((&mut ex, [format!("base{slower}"), format!("head{slower}")])),
        )
        .unwrap();
        let info = |id: &str| CommitInfo {
            id: id.repeat(40),
            subject: "s".into(),
            author: "a".into(),
            date: "d".into(),
            relevant_files: vec![],
        };
        Gate {
            base: info("a"),
            head: info("b"),
            valgrind: Some("valgrind-3.19.0".into()),
            rounds,
            rows,
            only_in_base,
            only_in_head,
            load,
            wall_s: 1.0,
        }
    }

    #[test]
    fn a_regression_is_on_top_expanded_with_its_hotspot_and_commands() {
        let g = gate(1.12);
        assert_eq!(g.regressions(), 1);
        assert_eq!(g.rows[0].name, "encrypt_record_1k");
        let text = comment(&g);
        insta::assert_snapshot!("gate_comment_regression", text);
        assert!(
            text.contains("## zp benchmark gate: ❌ 1 regression"),
            "{text}"
        );
        assert!(
            text.contains("| ❌ | encrypt_record_1k | datapath | +12.0% |"),
            "{text}"
        );
        assert!(
            text.contains("Hotspots (instructions by zp function, exact (callgrind)"),
            "{text}"
        );
        assert!(text.contains("1. `zp::record::seal`"), "{text}");
        assert!(
            text.contains("`cargo xtask bisect encrypt_record_1k --good aaaaaaaaaa --bad bbbbbbbbbb --metric instructions`"),
            "{text}"
        );
        assert!(
            text.contains(
                "`cargo xtask flame encrypt_record_1k --rev bbbbbbbbbb --diff aaaaaaaaaa`"
            ),
            "{text}"
        );
        // Only what is not PASS is expanded.
        assert_eq!(text.matches("<details>").count(), 1, "{text}");
        let bmf = bmf(&g);
        assert_eq!(
            bmf["zp::datapath::encrypt_record_1k"]["instructions"]["value"],
            12_000.0 * 1.12
        );
        assert_eq!(
            bmf["zp::memory::connection_state_size"]["bytes"]["value"],
            544.0
        );
    }

    #[test]
    fn an_unchanged_head_passes_and_nothing_is_expanded() {
        let g = gate(1.0);
        assert_eq!(g.regressions(), 0);
        let text = comment(&g);
        assert!(text.contains("✅ no regression (3 benchmarks)"), "{text}");
        assert!(!text.contains("<details>"), "{text}");
    }

    /// The gate's time opinion on the simulated busy machine, over 1000
    /// planted steps and 1000 unchanged heads each, deciding alone (no
    /// valgrind, the strictest case): a planted step is never PASS or an
    /// improvement, and an unchanged head is flagged at most α of the time
    /// over every look of its adaptive rounds.
    #[test]
    fn on_a_busy_machine_the_gate_never_passes_a_planted_step() {
        use crate::model::sim::Machine;
        let c = Category::Datapath;
        let gate = |seed: u64, change: f64| {
            let mut machine = Machine::busy(seed);
            let mut rng = Rng::new(seed);
            let budget = RoundBudget {
                quiet: 12,
                busy: 24,
            };
            let opinion = time_opinion(&mut rng, budget, DATAPATH.warning, false, &mut |side| {
                Ok(machine.observe(side, if side == BASE { 100.0 } else { 100.0 * change }))
            })
            .unwrap();
            decide(DATAPATH, c, None, &opinion.judgement).0
        };
        let mut tally: BTreeMap<(u8, Verdict), usize> = BTreeMap::new();
        for seed in 0..1000 {
            for (k, change) in [(0u8, 1.0), (1, 1.15), (2, 1.35)] {
                *tally.entry((k, gate(seed + 7_000, change))).or_default() += 1;
            }
        }
        eprintln!("busy machine, gate on time alone (0: unchanged, 1: +15 %, 2: +35 %): {tally:?}");
        let count = |k: u8, v: Verdict| tally.get(&(k, v)).copied().unwrap_or(0);
        for k in [1, 2] {
            assert_eq!(count(k, Verdict::Pass) + count(k, Verdict::Improvement), 0);
        }
        let false_alarms = count(0, Verdict::Warning) + count(0, Verdict::Regression);
        assert!(
            false_alarms as f64 <= sequential::ALPHA * 1000.0,
            "{false_alarms}"
        );
    }
}
