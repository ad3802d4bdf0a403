//! `cargo xtask ci --base REV [--head REV]`: the gate a pull request
//! passes, built for a noisy shared runner.
//!
//! Base and head are built outside the checkout with the bisect's builder
//! (cached), then measured against each other: every benchmark's exact
//! instruction count under callgrind (cached by probe fingerprint, like a
//! bisect's), and time in interleaved paired rounds (base, head, then
//! head, base, …), so that drift on the runner hits both sides alike.
//!
//! The decision is the instruction count's: it does not wander, so a rise
//! past the category's *warning* tier is a certain rise of that size and
//! fails the gate (time's tiers were set for a figure that wanders ±8 %
//! between rounds here). Time is the second opinion: it fails the gate only
//! past the *failure* tier, with the rank test's significance, and with
//! instructions rising too; a time-only slowdown is a warning (a cache or
//! layout effect the counts cannot see). Memory sizes are exact and follow
//! the instruction rule. Without valgrind, time decides alone, with the
//! tiers and the rank test, and the comment says so.
//!
//! Output: a Markdown comment (one table sorted by severity, every non-PASS
//! benchmark expanded in `<details>` with its hotspot diff and the exact
//! bisect and flame commands), `gate.json`, and `bmf.json` (Bencher Metric
//! Format). Exit 0 pass, 1 regression, 3 cannot compare.

use crate::budgets::{Budget, Category, Thresholds};
use crate::builds::{self, Builder, Built};
use crate::compare::{CannotCompare, Regressed};
use crate::git::{self, CommitInfo};
use crate::measurements::{self, CALLGRIND_ITERS, Key};
use crate::probe::{self, Probe};
use crate::stacks::Change;
use crate::stats::{self, ALPHA, Verdict, median};
use crate::verdicts::{fmt_ns, short};
use crate::{Ctx, Progress, atomic, flags};
use anyhow::{Context, Result, bail};
use serde::Serialize;
use std::collections::BTreeMap;
use std::fmt::Write;
use std::time::Instant;

/// Probe samples per time observation.
const TIME_SAMPLES: u32 = 10;
/// Seconds of pprof sampling per side for a hotspot diff.
const HOTSPOT_SECONDS: f64 = 2.0;

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
    /// Time observations (round medians, ns), base and head.
    pub time: Option<[Vec<f64>; 2]>,
    /// Memory sizes, base and head.
    pub bytes: Option<[u64; 2]>,
    pub verdict: Verdict,
    /// Why, in one line.
    pub why: String,
    pub hotspots: Vec<Change>,
    pub hotspot_notes: Vec<String>,
}

impl Row {
    fn instr_change(&self) -> Option<f64> {
        self.instructions.map(|[b, h]| h / b - 1.0)
    }

    fn time_change(&self) -> Option<(f64, f64)> {
        self.time
            .as_ref()
            .map(|[b, h]| (median(h) / median(b) - 1.0, stats::mann_whitney(h, b)))
    }
}

/// The gate's whole answer.
#[derive(Debug, Clone, Serialize)]
pub struct Gate {
    pub base: CommitInfo,
    pub head: CommitInfo,
    /// `valgrind --version`, when instruction counts decided.
    pub valgrind: Option<String>,
    /// Interleaved time rounds taken (the most any benchmark got).
    pub rounds: usize,
    pub rows: Vec<Row>,
    pub only_in_base: Vec<String>,
    pub only_in_head: Vec<String>,
    pub wall_s: f64,
}

impl Gate {
    pub fn regressions(&self) -> usize {
        self.rows
            .iter()
            .filter(|r| r.verdict == Verdict::Regression)
            .count()
    }
}

/// The verdict on one timed benchmark from its instruction counts (if
/// any) and its interleaved time observations, against its tiers.
pub fn decide(
    t: Thresholds,
    category: Category,
    instr: Option<[f64; 2]>,
    time: &[Vec<f64>; 2],
) -> (Verdict, String) {
    let d = stats::decide_time(&time[BASE], &time[HEAD], t);
    let tc = d.change();
    let p = d.p.unwrap_or(1.0);
    let pct = |x: f64| format!("{:+.1}%", x * 100.0);
    let tier = |x: f64| format!("{:.0}%", x * 100.0);
    let Some([ib, ih]) = instr else {
        let why = match d.verdict {
            Verdict::Regression => format!(
                "time {} (p = {p:.4}) past the {category} failure tier ({}); no instruction counts here",
                pct(tc),
                tier(t.failure)
            ),
            Verdict::Warning => format!(
                "time {} (p = {p:.4}) past the {category} warning tier ({})",
                pct(tc),
                tier(t.warning)
            ),
            Verdict::Inconclusive => format!(
                "time {} but the rank test is not convinced (p = {p:.3}): cannot tell without instruction counts",
                pct(tc)
            ),
            Verdict::Improvement => format!("time {} (p = {p:.4})", pct(tc)),
            Verdict::Pass => format!("time {} within the tiers", pct(tc)),
        };
        return (d.verdict, why);
    };
    let ic = ih / ib - 1.0;
    let significant = p < ALPHA;
    if ic > t.warning {
        (
            Verdict::Regression,
            format!(
                "instructions {} (exact) past the {category} warning tier ({}); time {}",
                pct(ic),
                tier(t.warning),
                pct(tc)
            ),
        )
    } else if significant && tc > t.failure && ic > 0.0 {
        (
            Verdict::Regression,
            format!(
                "time {} (p = {p:.4}) past the {category} failure tier ({}), and instructions rose too ({})",
                pct(tc),
                tier(t.failure),
                pct(ic)
            ),
        )
    } else if significant && tc > t.warning {
        (
            Verdict::Warning,
            format!(
                "time {} (p = {p:.4}) but instructions {}: a slowdown the counts do not see (cache, layout, frequency), or the runner",
                pct(tc),
                pct(ic)
            ),
        )
    } else if ic > t.warning / 2.0 {
        (
            Verdict::Warning,
            format!(
                "instructions {} (exact), under the {category} warning tier ({})",
                pct(ic),
                tier(t.warning)
            ),
        )
    } else if ic < -t.warning || (significant && tc < -t.warning && ic <= 0.0) {
        (
            Verdict::Improvement,
            format!("instructions {}, time {}", pct(ic), pct(tc)),
        )
    } else {
        (
            Verdict::Pass,
            format!("instructions {}, time {}", pct(ic), pct(tc)),
        )
    }
}

/// The verdict on a memory size (exact, so the instruction rule).
fn decide_bytes(t: Thresholds, category: Category, b: [u64; 2]) -> (Verdict, String) {
    let d = stats::decide_exact(b[BASE] as f64, b[HEAD] as f64, t);
    let change = format!(
        "{} B → {} B ({:+.1}%)",
        b[BASE],
        b[HEAD],
        d.change() * 100.0
    );
    match d.verdict {
        Verdict::Warning | Verdict::Regression => (
            Verdict::Regression,
            format!(
                "{change}, past the {category} warning tier ({:.0}%)",
                t.warning * 100.0
            ),
        ),
        v => (v, change),
    }
}

/// How the gate measures.
pub struct Options {
    pub rounds: usize,
    pub valgrind: Option<String>,
    /// Also sample hotspots of what fails or warns.
    pub hotspots: bool,
}

/// What [`measure`] found.
pub struct Measured {
    pub rows: Vec<Row>,
    /// Time rounds taken.
    pub rounds: usize,
    pub only_in_base: Vec<String>,
    pub only_in_head: Vec<String>,
}

/// Measures every benchmark both probes have and `benches` selects, and
/// decides. `fingerprints` and `cache` let exact counts be reused.
pub fn measure(
    probes: &mut [&mut dyn Probe; 2],
    benches: &[&Budget],
    budgets: &crate::budgets::Budgets,
    opts: &Options,
    mut cache: Option<(&mut measurements::Cache, [String; 2], String)>,
) -> Result<Measured> {
    let listed: Vec<Vec<String>> = probes
        .iter_mut()
        .map(|p| Ok(p.list()?.into_iter().map(|l| l.name).collect()))
        .collect::<Result<_>>()?;
    let has = |side: usize, name: &str| listed[side].iter().any(|n| n == name);
    let common: Vec<&Budget> = benches
        .iter()
        .copied()
        .filter(|b| has(BASE, &b.name) && has(HEAD, &b.name))
        .collect();
    let only = |side: usize| -> Vec<String> {
        benches
            .iter()
            .filter(|b| has(side, &b.name) && !has(1 - side, &b.name))
            .map(|b| b.name.clone())
            .collect()
    };
    let (only_in_base, only_in_head) = (only(BASE), only(HEAD));
    if common.is_empty() {
        bail!(CannotCompare(
            "base and head have no benchmark in common".into()
        ));
    }
    let timed: Vec<&Budget> = common
        .iter()
        .copied()
        .filter(|b| b.category != Category::Memory)
        .collect();

    // Exact counts first: they decide.
    let mut instructions: BTreeMap<String, [f64; 2]> = BTreeMap::new();
    if let Some(tool) = &opts.valgrind {
        let progress = Progress::new((2 * timed.len()) as u64, "counting");
        for b in &timed {
            let mut pair = [0.0; 2];
            for side in [BASE, HEAD] {
                progress.phase(&format!("{} at {}", b.name, probes[side].origin()));
                pair[side] = match &mut cache {
                    Some((c, fps, cpu)) => {
                        let key = Key::instructions(&fps[side], &b.name, tool, cpu);
                        c.exact(&key, &mut *probes[side], false)?.0
                    }
                    None => {
                        probe::callgrind(&mut *probes[side], &b.name, CALLGRIND_ITERS)?
                            .instructions_per_iter
                    }
                };
                progress.inc();
            }
            instructions.insert(b.name.clone(), pair);
        }
        progress.finish();
    }

    // Time in interleaved paired rounds; undecided benchmarks get more.
    let mut time: BTreeMap<String, [Vec<f64>; 2]> = BTreeMap::new();
    let mut round = 0usize;
    let mut pending: Vec<&Budget> = timed.clone();
    while !pending.is_empty() {
        let progress = Progress::new(pending.len() as u64, "timing");
        progress.phase(&format!("round {}", round + 1));
        for b in &pending {
            // Alternate which side goes first, so that drift within a
            // round does not always favour the same one.
            let order = if round.is_multiple_of(2) {
                [BASE, HEAD]
            } else {
                [HEAD, BASE]
            };
            for side in order {
                let t = probe::time(&mut *probes[side], &b.name, TIME_SAMPLES)?;
                time.entry(b.name.clone()).or_default()[side].push(median(&t.samples_ns));
            }
            progress.inc();
        }
        progress.finish();
        round += 1;
        if round < opts.rounds {
            continue;
        }
        pending.retain(|b| {
            let t = budgets.thresholds(b.category);
            let (v, _) = decide(
                t,
                b.category,
                instructions.get(&b.name).copied(),
                &time[&b.name],
            );
            let d = stats::decide_time(&time[&b.name][BASE], &time[&b.name][HEAD], t);
            // More rounds only where time is undecided and could matter.
            round < 3 * opts.rounds
                && d.verdict == Verdict::Inconclusive
                && v != Verdict::Regression
        });
    }

    let mut rows = Vec::new();
    for b in &common {
        let t = budgets.thresholds(b.category);
        let mut row = Row {
            name: b.name.clone(),
            category: b.category,
            instructions: instructions.get(&b.name).copied(),
            time: time.get(&b.name).cloned(),
            bytes: None,
            verdict: Verdict::Pass,
            why: String::new(),
            hotspots: Vec::new(),
            hotspot_notes: Vec::new(),
        };
        let (verdict, why) = match b.category {
            Category::Memory => {
                let sizes = [
                    probe::bytes(&mut *probes[BASE], &b.name)?,
                    probe::bytes(&mut *probes[HEAD], &b.name)?,
                ];
                row.bytes = Some(sizes);
                decide_bytes(t, b.category, sizes)
            }
            c => decide(t, c, row.instructions, row.time.as_ref().expect("timed")),
        };
        row.verdict = verdict;
        row.why = why;
        if opts.hotspots
            && b.category != Category::Memory
            && matches!(verdict, Verdict::Regression | Verdict::Warning)
        {
            let sampled = (
                crate::flame::sample(&mut *probes[BASE], &b.name, HOTSPOT_SECONDS),
                crate::flame::sample(&mut *probes[HEAD], &b.name, HOTSPOT_SECONDS),
            );
            match sampled {
                (Ok(before), Ok(after)) => {
                    let (changes, notes) = crate::flame::hotspot_diff(&before, &after, 5);
                    row.hotspots = changes;
                    row.hotspot_notes = notes;
                }
                (Err(e), _) | (_, Err(e)) => {
                    crate::process::check()?;
                    row.hotspot_notes.push(format!("no hotspots: {e:#}"));
                }
            }
        }
        rows.push(row);
    }
    // Most severe first, then by name.
    rows.sort_by(|a, b| {
        severity(b.verdict)
            .cmp(&severity(a.verdict))
            .then(a.name.cmp(&b.name))
    });
    Ok(Measured {
        rows,
        rounds: round,
        only_in_base,
        only_in_head,
    })
}

fn severity(v: Verdict) -> u8 {
    match v {
        Verdict::Regression => 4,
        Verdict::Warning => 3,
        Verdict::Inconclusive => 2,
        Verdict::Improvement => 1,
        Verdict::Pass => 0,
    }
}

fn mark(v: Verdict) -> &'static str {
    match v {
        Verdict::Regression => "❌",
        Verdict::Warning => "⚠️",
        Verdict::Inconclusive => "❔",
        Verdict::Improvement => "🚀",
        Verdict::Pass => "✅",
    }
}

/// The pull-request comment.
pub fn comment(g: &Gate) -> String {
    let mut out = String::new();
    let (base, head) = (short(&g.base.id), short(&g.head.id));
    let count = |v: Verdict| g.rows.iter().filter(|r| r.verdict == v).count();
    let summary = match g.regressions() {
        0 => format!("✅ no regression ({} benchmarks)", g.rows.len()),
        n => format!("❌ {n} regression{}", if n == 1 { "" } else { "s" }),
    };
    let _ = writeln!(
        out,
        "<!-- zp-bench-gate -->\n## zp benchmark gate: {summary} · base `{base}` → head `{head}`\n"
    );
    match &g.valgrind {
        Some(v) => {
            let _ = writeln!(
                out,
                "Decided on exact instruction counts ({v}, callgrind); time is the second opinion, from {} interleaved rounds of base and head (more where undecided). A benchmark fails when its instructions rise past its category's warning tier, or when its time rises significantly (p < 0.01) past the failure tier with instructions rising too.\n",
                g.rounds
            );
        }
        None => {
            let _ = writeln!(
                out,
                "**Decided on time only: valgrind is not installed on this runner**, so there are no exact instruction counts. {} interleaved rounds of base and head (more where undecided); a benchmark fails when its time rises significantly (p < 0.01) past its category's failure tier.\n",
                g.rounds
            );
        }
    }
    let (w, i) = (count(Verdict::Warning), count(Verdict::Improvement));
    if w + i > 0 {
        let _ = writeln!(out, "{w} warning(s), {i} improvement(s).\n");
    }
    let _ = writeln!(
        out,
        "| | benchmark | category | instructions | time | verdict |"
    );
    let _ = writeln!(out, "|---|---|---|---|---|---|");
    for r in &g.rows {
        let instr = match (r.instr_change(), r.bytes) {
            (Some(c), _) => format!("{:+.1}%", c * 100.0),
            (None, Some([b, h])) => format!("{b} B → {h} B"),
            _ => "—".into(),
        };
        let time = match r.time_change() {
            Some((c, p)) if p < ALPHA => format!("{:+.1}% (p = {p:.4})", c * 100.0),
            Some((c, _)) => format!("{:+.1}%", c * 100.0),
            None => "—".into(),
        };
        let _ = writeln!(
            out,
            "| {} | {} | {} | {instr} | {time} | {} |",
            mark(r.verdict),
            r.name,
            r.category,
            r.verdict
        );
    }
    for name in &g.only_in_base {
        let _ = writeln!(out, "| ➖ | {name} | | | | removed in head |");
    }
    for name in &g.only_in_head {
        let _ = writeln!(out, "| ➕ | {name} | | | | new in head |");
    }
    for r in g.rows.iter().filter(|r| r.verdict != Verdict::Pass) {
        let _ = writeln!(
            out,
            "\n<details><summary>{} <b>{}</b>: {}</summary>\n",
            mark(r.verdict),
            r.name,
            r.why
        );
        if let Some([b, h]) = r.instructions {
            let _ = writeln!(
                out,
                "Instructions per iteration: {b:.0} → {h:.0} (exact).  "
            );
        }
        if let Some([b, h]) = &r.time {
            let _ = writeln!(
                out,
                "Time per iteration: {} → {} (medians of {} and {} interleaved rounds).  ",
                fmt_ns(median(b)),
                fmt_ns(median(h)),
                b.len(),
                h.len()
            );
        }
        if !r.hotspots.is_empty() {
            let _ = writeln!(
                out,
                "\nHotspots (time by zp function, with what it calls outside zp; base → head):\n"
            );
            for (k, c) in r.hotspots.iter().enumerate() {
                let _ = writeln!(
                    out,
                    "{}. `{}` {:.0}% → {:.0}% of time ({:+.1}% of base's time)",
                    k + 1,
                    crate::stacks::elide_generics(&c.function),
                    c.before_pct,
                    c.after_pct,
                    c.growth_pct
                );
            }
        }
        for n in &r.hotspot_notes {
            let _ = writeln!(out, "\nNote: {n}");
        }
        if r.category != Category::Memory && r.verdict != Verdict::Improvement {
            let metric = if r.instructions.is_some() {
                " --metric instructions"
            } else {
                ""
            };
            let _ = writeln!(
                out,
                "\nFind the commit: `cargo xtask bisect {} --good {base} --bad {head}{metric}`  \nSee where: `cargo xtask flame {} --rev {head} --diff {base}`",
                r.name, r.name
            );
        }
        let _ = writeln!(out, "\n</details>");
    }
    let _ = writeln!(
        out,
        "\n<sub>{:.0} s · `cargo xtask ci --base {base} --head {head}`</sub>",
        g.wall_s
    );
    out
}

/// The head's figures in Bencher Metric Format.
pub fn bmf(g: &Gate) -> serde_json::Value {
    let mut out = serde_json::Map::new();
    for r in &g.rows {
        let mut m = serde_json::Map::new();
        if let Some([_, h]) = r.instructions {
            m.insert("instructions".into(), serde_json::json!({ "value": h }));
        }
        if let Some([_, h]) = &r.time {
            let lo = h.iter().copied().fold(f64::INFINITY, f64::min);
            let hi = h.iter().copied().fold(f64::NEG_INFINITY, f64::max);
            m.insert(
                "latency".into(),
                serde_json::json!({ "value": median(h), "lower_value": lo, "upper_value": hi }),
            );
        }
        if let Some([_, h]) = r.bytes {
            m.insert("bytes".into(), serde_json::json!({ "value": h as f64 }));
        }
        out.insert(format!("zp::{}::{}", r.category, r.name), m.into());
    }
    out.into()
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
        let mut cache = measurements::Cache::new(&ctx.store.cache().join("measurements"));
        let cpu = crate::host::Machine::detect().features.join(",");
        let fingerprints = [
            binaries[0].fingerprint.clone(),
            binaries[1].fingerprint.clone(),
        ];
        let Measured {
            rows,
            rounds,
            only_in_base,
            only_in_head,
        } = measure(
            &mut [&mut base_probe, &mut head_probe],
            &benches,
            &ctx.budgets,
            &Options {
                rounds: self.rounds as usize,
                valgrind: valgrind.clone(),
                hotspots: true,
            },
            Some((&mut cache, fingerprints, cpu)),
        )?;
        let gate = Gate {
            base,
            head,
            valgrind,
            rounds,
            rows,
            only_in_base,
            only_in_head,
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

    fn rounds(base: f64, head: f64) -> [Vec<f64>; 2] {
        let wobble = [0.0, 0.02, -0.01, 0.03, -0.02];
        [
            wobble.iter().map(|w| base * (1.0 + w)).collect(),
            wobble.iter().map(|w| head * (1.0 - w)).collect(),
        ]
    }

    #[test]
    fn exact_counts_decide_and_time_is_the_second_opinion() {
        let c = Category::Datapath;
        let decide = |i: Option<[f64; 2]>, t: [Vec<f64>; 2]| decide(DATAPATH, c, i, &t).0;
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
                decide(instructions, rounds(base, head)),
                want,
                "{instructions:?}, time {base} → {head}"
            );
        }
        let (_, why) = super::decide(DATAPATH, c, None, &rounds(100.0, 130.0));
        assert!(why.contains("no instruction counts"), "{why}");
    }

    /// Two fake probes: the head's `encrypt_record_1k` runs `slower` more
    /// instructions and time, with its extra time in `zp::record::seal`.
    fn sides(slower: f64) -> [crate::probe::Fake; 2] {
        [1.0, slower].map(|factor| {
            crate::probe::Fake::new(move |req| {
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
        })
    }

    fn gate(slower: f64) -> Gate {
        let budgets = crate::fixtures::budgets();
        let benches = budgets.select(Some("record")).unwrap();
        let mut benches = benches;
        benches.push(budgets.get("connection_state_size").unwrap());
        let [mut b, mut h] = sides(slower);
        let Measured {
            rows,
            rounds,
            only_in_base,
            only_in_head,
        } = measure(
            &mut [&mut b, &mut h],
            &benches,
            &budgets,
            &Options {
                rounds: 5,
                valgrind: Some("valgrind-3.19.0".into()),
                hotspots: true,
            },
            None,
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
            wall_s: 1.0,
        }
    }

    #[test]
    fn a_regression_is_on_top_expanded_with_its_hotspot_and_commands() {
        let g = gate(1.12);
        assert_eq!(g.regressions(), 1);
        assert_eq!(g.rows[0].name, "encrypt_record_1k");
        let text = comment(&g);
        assert!(
            text.contains("## zp benchmark gate: ❌ 1 regression"),
            "{text}"
        );
        assert!(
            text.contains("| ❌ | encrypt_record_1k | datapath | +12.0% |"),
            "{text}"
        );
        assert!(text.contains("`zp::record::seal`"), "{text}");
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
}
