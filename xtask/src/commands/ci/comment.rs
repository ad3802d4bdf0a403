//! The gate's sticky pull-request comment (Markdown, sorted by severity,
//! only what is not PASS expanded) and its Bencher Metric Format export.

use super::*;
use crate::render::bmf::{Bmf, Measures};

pub(super) fn severity(v: Verdict) -> u8 {
    match v {
        Verdict::Regression => 4,
        Verdict::Warning => 3,
        Verdict::Inconclusive => 2,
        Verdict::Improvement => 1,
        Verdict::Pass => 0,
    }
}

pub(super) fn mark(v: Verdict) -> &'static str {
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
                crate::units::fmt_count(b.l1_misses),
                crate::units::fmt_count(h.l1_misses),
                crate::units::fmt_count(b.ll_misses),
                crate::units::fmt_count(h.ll_misses),
                crate::units::fmt_count(b.mispredicts),
                crate::units::fmt_count(h.mispredicts),
                b.estimated_cycles,
                h.estimated_cycles,
                pct(h.estimated_cycles / b.estimated_cycles)
            );
        }
        if !r.hotspots.is_empty() {
            let (what, lines) = crate::render::flamegraph::hotspot_diff_lines(
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
    let mut out = Bmf::default();
    for r in &g.rows {
        out.bench(
            r.category,
            &r.name,
            Measures {
                instructions: r.instructions.map(|[_, h]| h),
                latency: r.time.as_ref().map(|[_, h]| (median(h), &h[..])),
                bytes: r.bytes.map(|[_, h]| h as f64),
                allocations: None,
            },
        );
    }
    out.into_value()
}
