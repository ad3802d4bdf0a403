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
use crate::builds::{self, Builder, Built};
use crate::compare::{CannotCompare, Regressed};
use crate::git::{self, CommitInfo};
use crate::measure::exact::{self, Simulated};
use crate::measure::hotspots::{self, Exactly, Instrument, Side};
use crate::measurements::{self, CALLGRIND_ITERS, Key};
use crate::observation::{Clock, Load, Observation};
use crate::probe::{self, Probe};
use crate::rng::Rng;
use crate::sequential::{self, Judgement, Outcome as Said, RoundBudget, pct};
use crate::stacks::Change;
use crate::stats::{self, Verdict, median};
use crate::verdicts::{fmt_ns, short};
use crate::{Ctx, Progress, atomic, flags};
use anyhow::{Context, Result, bail};
use serde::Serialize;
use std::collections::BTreeMap;
use std::fmt::Write;
use std::time::Instant;

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

/// The verdict on one timed benchmark from its instruction counts (if
/// any) and its paired time judgement at the warning tier.
pub fn decide(
    t: Thresholds,
    category: Category,
    instr: Option<[f64; 2]>,
    time: &Judgement,
) -> (Verdict, String) {
    let tc = time.estimate - 1.0;
    let pct100 = |x: f64| format!("{:+.1}%", x * 100.0);
    let tier = |x: f64| format!("{:.0}%", x * 100.0);
    let words = time.describe();
    let slower = time.outcome == Said::Slower;
    let Some([ib, ih]) = instr else {
        // Time alone: the bench verdicts' tiers, on the paired interval.
        let iv = sequential::Interval {
            estimate: time.estimate,
            low: time.low,
            high: time.high,
        };
        let verdict = stats::tiers(iv, t);
        let why = match verdict {
            Verdict::Regression => format!(
                "time {words} past the {category} failure tier ({}); no instruction counts here",
                tier(t.failure)
            ),
            Verdict::Warning => format!(
                "time {words} past the {category} warning tier ({})",
                tier(t.warning)
            ),
            Verdict::Improvement => format!("time {words}"),
            Verdict::Pass => format!("time {words}, within the {} warning tier", tier(t.warning)),
            Verdict::Inconclusive => format!(
                "time cannot decide yet: {words}, neither past nor within the {} warning tier, and no instruction counts here; {}",
                tier(t.warning),
                time.what_would_decide()
            ),
        };
        return (verdict, why);
    };
    let ic = ih / ib - 1.0;
    let time_said = match time.outcome {
        Said::CannotDecide => format!("time cannot decide: {words}"),
        _ => format!("time {words}"),
    };
    if ic > t.warning {
        (
            Verdict::Regression,
            format!(
                "instructions {} (exact) past the {category} warning tier ({}); {time_said}",
                pct100(ic),
                tier(t.warning)
            ),
        )
    } else if slower && tc > t.failure && ic > 0.0 {
        (
            Verdict::Regression,
            format!(
                "time {words} past the {category} failure tier ({}), and instructions rose too ({})",
                tier(t.failure),
                pct100(ic)
            ),
        )
    } else if slower {
        (
            Verdict::Warning,
            format!(
                "time {words} but instructions {}: a slowdown the counts do not see (cache, layout, frequency), or the runner",
                pct100(ic)
            ),
        )
    } else if ic > t.warning / 2.0 {
        (
            Verdict::Warning,
            format!(
                "instructions {} (exact), under the {category} warning tier ({}); {time_said}",
                pct100(ic),
                tier(t.warning)
            ),
        )
    } else if ic < -t.warning || (time.faster() && ic <= 0.0) {
        (
            Verdict::Improvement,
            format!("instructions {}, {time_said}", pct100(ic)),
        )
    } else {
        (
            Verdict::Pass,
            format!("instructions {}, {time_said}", pct100(ic)),
        )
    }
}

/// The gate's time opinion of one benchmark, and what it observed.
pub struct Opinion {
    /// Time per paired round, base and head, of the comparison that stands.
    pub values: [Vec<f64>; 2],
    pub judgement: Judgement,
    /// A first comparison's slowdown that the second did not confirm.
    pub unconfirmed: Option<Judgement>,
    pub observations: Vec<Observation>,
    pub clock: Clock,
}

/// Paired rounds of base and head judged at the warning tier `tier`. A
/// slowdown that exact counts do not explain (`explained` false) stands
/// only when a second, independent comparison finds it too: the gate asks
/// this of every one of its benchmarks, and one comparison erring at most
/// α each leaves a false time-only WARNING somewhere in a gate of 18
/// benchmarks up to 18 α of the time (measured on an unchanged head here:
/// x25519_keygen +21.5 %, interval +0.0 % to +44.8 %, in one of three
/// gates); two must err together, at most α² each.
pub fn time_opinion(
    rng: &mut Rng,
    budget: RoundBudget,
    tier: f64,
    explained: bool,
    observe: &mut dyn FnMut(usize) -> Result<Observation>,
) -> Result<Opinion> {
    let mut observations = Vec::new();
    let mut unconfirmed = None;
    let mut ran = sequential::judge_pair(rng, budget, tier, observe)?;
    if ran.result.outcome == Said::Slower && !explained {
        observations.extend(ran.observations.iter().flatten());
        let first = ran.result;
        ran = sequential::judge_pair(rng, budget, tier, observe)?;
        if ran.result.outcome != Said::Slower {
            unconfirmed = Some(first);
        }
    }
    observations.extend(ran.observations.iter().flatten());
    let values = [BASE, HEAD].map(|side| {
        ran.observations[side]
            .iter()
            .map(|o| o.value(ran.clock))
            .collect()
    });
    Ok(Opinion {
        values,
        judgement: ran.result,
        unconfirmed,
        observations,
        clock: ran.clock,
    })
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
    /// Paired time rounds per benchmark on a quiet machine (twice as many
    /// while it is busy).
    pub rounds: usize,
    pub valgrind: Option<String>,
    /// Also explain what fails or warns (hotspots, simulated counters).
    pub hotspots: bool,
}

/// What [`measure`] found.
pub struct Measured {
    pub rows: Vec<Row>,
    /// Paired time rounds taken (the most any benchmark got).
    pub rounds: usize,
    pub only_in_base: Vec<String>,
    pub only_in_head: Vec<String>,
    pub load: Option<Load>,
}

/// Measures every benchmark both probes have and `benches` selects, and
/// decides. With `exactly` and the probes' fingerprints, exact counts and
/// profiles are cached and reused.
pub fn measure(
    probes: &mut [&mut dyn Probe; 2],
    benches: &[&Budget],
    budgets: &crate::budgets::Budgets,
    opts: &Options,
    mut exactly: Option<(&mut Exactly, [String; 2])>,
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
                pair[side] = match &mut exactly {
                    Some((ex, fps)) => {
                        let key = Key::instructions(&fps[side], &b.name, tool, &ex.cpu);
                        ex.cache.exact(&key, &mut *probes[side], false)?.0
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

    // Time: paired rounds in random orders until each benchmark's
    // comparison decides, or its budget ends.
    let budget = RoundBudget {
        quiet: opts.rounds,
        busy: 2 * opts.rounds,
    };
    let mut rng = Rng::new(0x9a7e);
    let mut judged: BTreeMap<String, Opinion> = BTreeMap::new();
    let mut observed: Vec<Observation> = Vec::new();
    let mut clocks: Vec<Clock> = Vec::new();
    let progress = Progress::new(timed.len() as u64, "timing");
    for b in &timed {
        progress.phase(&format!("{} (base and head, paired rounds)", b.name));
        let t = budgets.thresholds(b.category);
        // Counts that rose past half the warning tier explain a slowdown.
        let explained = instructions
            .get(&b.name)
            .is_some_and(|[b, h]| h / b - 1.0 > t.warning / 2.0);
        let opinion = time_opinion(&mut rng, budget, t.warning, explained, &mut |side| {
            crate::measure::time::observe(&mut *probes[side], &b.name)
        })?;
        observed.extend(&opinion.observations);
        clocks.push(opinion.clock);
        judged.insert(b.name.clone(), opinion);
        progress.inc();
    }
    progress.finish();
    let mut load = Load::of(&observed);
    if let Some(l) = &mut load
        && clocks.contains(&Clock::Wall)
    {
        l.clock = Clock::Wall;
    }

    let mut rows = Vec::new();
    for b in &common {
        let t = budgets.thresholds(b.category);
        let time = judged.get(&b.name);
        let mut row = Row {
            name: b.name.clone(),
            category: b.category,
            instructions: instructions.get(&b.name).copied(),
            time: time.map(|o| o.values.clone()),
            judgement: time.map(|o| o.judgement),
            unconfirmed: time.and_then(|o| o.unconfirmed),
            bytes: None,
            verdict: Verdict::Pass,
            why: String::new(),
            hotspots: Vec::new(),
            hotspot_notes: Vec::new(),
            hotspot_instrument: None,
            simulated: None,
        };
        let (verdict, why) = match (&row.judgement, b.category) {
            (_, Category::Memory) => {
                let sizes = [
                    probe::bytes(&mut *probes[BASE], &b.name)?,
                    probe::bytes(&mut *probes[HEAD], &b.name)?,
                ];
                row.bytes = Some(sizes);
                decide_bytes(t, b.category, sizes)
            }
            (Some(j), c) => decide(t, c, row.instructions, j),
            (None, _) => unreachable!("every timed benchmark was judged"),
        };
        row.verdict = verdict;
        row.why = why;
        if opts.hotspots
            && b.category != Category::Memory
            && matches!(verdict, Verdict::Regression | Verdict::Warning)
        {
            explain(probes, &mut exactly, &mut row)?;
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
        rounds: judged
            .values()
            .map(|o| o.judgement.rounds)
            .max()
            .unwrap_or(0),
        only_in_base,
        only_in_head,
        load,
    })
}

/// A failing or warning row's hotspot diff (exact where its counts moved)
/// and callgrind's simulated caches and branches on both sides.
fn explain(
    probes: &mut [&mut dyn Probe; 2],
    exactly: &mut Option<(&mut Exactly, [String; 2])>,
    row: &mut Row,
) -> Result<()> {
    let [base, head] = probes;
    let ids = exactly
        .as_ref()
        .map_or([String::new(), String::new()], |(_, fps)| fps.clone());
    let time_change = row.judgement.map(|j| j.estimate - 1.0);
    let diff = hotspots::explain(
        exactly.as_mut().map(|(ex, _)| &mut **ex),
        Side {
            probe: &mut **base,
            id: ids[BASE].clone(),
        },
        Side {
            probe: &mut **head,
            id: ids[HEAD].clone(),
        },
        &row.name,
        time_change,
        5,
    );
    match diff {
        Ok(d) => {
            row.hotspots = d.changes;
            row.hotspot_notes = d.notes;
            row.hotspot_instrument = Some(d.instrument);
        }
        Err(e) => {
            crate::process::check()?;
            row.hotspot_notes.push(format!("no hotspots: {e:#}"));
        }
    }
    if let Some((ex, fps)) = exactly {
        let opts = exact::Options { simulate: true };
        let sim = ex
            .costs(&mut **base, &fps[BASE], &row.name, opts)
            .and_then(|b| Ok((b, ex.costs(&mut **head, &fps[HEAD], &row.name, opts)?)));
        match sim {
            Ok((b, h)) => row.simulated = b.simulated().zip(h.simulated()).map(|(b, h)| [b, h]),
            Err(e) => {
                crate::process::check()?;
                row.hotspot_notes
                    .push(format!("no cache simulation: {e:#}"));
            }
        }
    }
    Ok(())
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
    let summary = match (g.regressions(), g.count(Verdict::Inconclusive)) {
        (0, 0) => format!("✅ no regression ({} benchmarks)", g.rows.len()),
        (0, u) => format!(
            "❔ no regression, but time cannot decide {u} of {} benchmarks yet",
            g.rows.len()
        ),
        (n, _) => format!("❌ {n} regression{}", if n == 1 { "" } else { "s" }),
    };
    let _ = writeln!(
        out,
        "<!-- zp-bench-gate -->\n## zp benchmark gate: {summary} · base `{base}` → head `{head}`\n"
    );
    let rounds = format!(
        "paired rounds of base and head in random order, judged at 8, 12, 18, … rounds with a {:.0}% interval that holds over every look (up to {} rounds per benchmark here)",
        sequential::CONFIDENCE_PCT,
        g.rounds
    );
    match &g.valgrind {
        Some(v) => {
            let _ = writeln!(
                out,
                "Decided on exact instruction counts ({v}, callgrind); time is the second opinion, from {rounds}. A benchmark fails when its instructions rise past its category's warning tier, or when its time is slower past the failure tier with instructions rising too. Time that cannot decide says so; it is never read as \"no change\".\n"
            );
        }
        None => {
            let _ = writeln!(
                out,
                "**Decided on time only: valgrind is not installed on this runner**, so there are no exact instruction counts. Time from {rounds}; a benchmark fails when its time is slower past its category's failure tier, and is INCONCLUSIVE when time cannot decide.\n"
            );
        }
    }
    if let Some(l) = &g.load {
        let _ = writeln!(
            out,
            "Machine: {}; time decided on {}{}.\n",
            l.describe(),
            l.clock.name(),
            if l.busy() {
                "; being busy, each benchmark could take twice the rounds"
            } else {
                ""
            }
        );
    }
    let (w, i, u) = (
        g.count(Verdict::Warning),
        g.count(Verdict::Improvement),
        g.count(Verdict::Inconclusive),
    );
    if w + i + u > 0 {
        let _ = writeln!(
            out,
            "{w} warning(s), {i} improvement(s), {u} that time cannot decide yet.\n"
        );
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
        let time = match &r.judgement {
            Some(j) => format!(
                "{} [{}, {}] {}{}",
                pct(j.estimate),
                pct(j.low),
                pct(j.high),
                match j.outcome {
                    Said::Slower => "slower",
                    Said::NotSlower => "not slower",
                    Said::CannotDecide => "cannot decide",
                },
                match &r.unconfirmed {
                    Some(first) => format!(
                        " (a first comparison said slower, {}: not confirmed)",
                        pct(first.estimate)
                    ),
                    None => String::new(),
                }
            ),
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
        if let (Some([b, h]), Some(j)) = (&r.time, &r.judgement) {
            let _ = writeln!(
                out,
                "Time per iteration: {} → {} (medians of {} paired rounds); head over base {}.  ",
                fmt_ns(median(b)),
                fmt_ns(median(h)),
                j.rounds,
                j.describe()
            );
        }
        if let Some([b, h]) = &r.simulated {
            let _ = writeln!(
                out,
                "Simulated by callgrind (no hardware counters here; estimated, not measured): L1 misses {} → {}, LL misses {} → {}, branch mispredicts {} → {} per iteration; estimated cycles (Ir + 10 L1m + 100 LLm + 10 mispredicts) {:.0} → {:.0} ({}).  ",
                crate::verdicts::fmt_count(b.l1_misses),
                crate::verdicts::fmt_count(h.l1_misses),
                crate::verdicts::fmt_count(b.ll_misses),
                crate::verdicts::fmt_count(h.ll_misses),
                crate::verdicts::fmt_count(b.mispredicts),
                crate::verdicts::fmt_count(h.mispredicts),
                b.estimated_cycles,
                h.estimated_cycles,
                pct(h.estimated_cycles / b.estimated_cycles)
            );
        }
        if !r.hotspots.is_empty() {
            let (what, lines) = crate::flamegraph::hotspot_diff_lines(
                &r.hotspots,
                r.hotspot_instrument,
                "base's",
                true,
            );
            let _ = writeln!(
                out,
                "\nHotspots ({what}, with what each calls outside zp; base → head):\n"
            );
            for l in lines {
                let _ = writeln!(out, "{l}");
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
        use crate::sim::Machine;
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
