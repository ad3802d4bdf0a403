//! Rendering a [`Comparison`]: a one-screen summary of every benchmark,
//! then the requirements' `[BENCH-RUNNER]` block for each one, as plain
//! text, Markdown or JSON. Pure functions of the comparison, so the output
//! is snapshot-tested.

use crate::budgets::Category;
use crate::cli::flags::Format;
use crate::model::decide::Verdict;
use crate::model::verdicts::{Comparison, Row};
use crate::units::{fmt_change, fmt_count, fmt_ns, fmt_target, fmt_value, short};
use std::fmt::Write;

pub fn render(c: &Comparison, format: Format) -> String {
    match format {
        Format::Json => serde_json::to_string_pretty(c).expect("a comparison serializes") + "\n",
        Format::Text | Format::Markdown => {
            let md = format == Format::Markdown;
            let mut out = summary(c, md);
            for row in &c.rows {
                out.push('\n');
                out.push_str(&block(c, row, md));
            }
            out
        }
    }
}

fn describe(label: &str, id: &str, commit: Option<&str>, dirty: bool) -> String {
    let what = match commit {
        Some(c) => format!(
            "commit {}{}",
            short(c),
            if dirty { " + uncommitted changes" } else { "" }
        ),
        None => "no commit".to_string(),
    };
    if label.ends_with(id) {
        format!("{label} ({what})")
    } else {
        format!("{label} = run {id} ({what})")
    }
}

/// The one-screen summary.
pub fn summary(c: &Comparison, md: bool) -> String {
    let mut out = String::new();
    let new = describe(
        &c.new.label,
        &c.new.id,
        c.new.commit.as_deref(),
        c.new.dirty,
    );
    let title = match &c.old {
        Some(o) => format!(
            "zp benchmarks: {new} against {}",
            describe(&o.label, &o.id, o.commit.as_deref(), o.dirty)
        ),
        None => format!("zp benchmarks: {new}, no baseline to compare with (budgets only)"),
    };
    if md {
        let _ = writeln!(out, "## {title}\n");
    } else {
        let _ = writeln!(out, "{title}\n");
    }
    for caution in &c.cautions {
        let _ = if md {
            writeln!(out, "> **CAUTION:** {caution}")
        } else {
            writeln!(out, "!! CAUTION: {caution}")
        };
    }
    if !c.cautions.is_empty() {
        out.push('\n');
    }
    let header = [
        "benchmark",
        "category",
        "median",
        "baseline",
        "change",
        "interval",
        "verdict",
        "budget",
        "trend",
    ];
    let rows: Vec<[String; 9]> = c.rows.iter().map(summary_cells).collect();
    out.push_str(&table(&header, &rows, md));
    let mut counts: Vec<(Verdict, usize)> = Vec::new();
    for v in [
        Verdict::Regression,
        Verdict::Warning,
        Verdict::Inconclusive,
        Verdict::Improvement,
        Verdict::Pass,
    ] {
        let n = c
            .rows
            .iter()
            .filter(|r| r.decision.map(|d| d.verdict) == Some(v))
            .count();
        if n > 0 {
            counts.push((v, n));
        }
    }
    let mut tail = vec![format!("{} benchmarks", c.rows.len())];
    if !counts.is_empty() {
        tail.push(
            counts
                .iter()
                .map(|(v, n)| format!("{n} {v}"))
                .collect::<Vec<_>>()
                .join(", "),
        );
    }
    let unbaselined = c.rows.iter().filter(|r| r.decision.is_none()).count();
    if c.old.is_some() && unbaselined > 0 {
        tail.push(format!("{unbaselined} new since the baseline"));
    }
    let over = c.rows.iter().filter(|r| r.budget.over).count();
    tail.push(if over == 0 {
        "all within budget".to_string()
    } else {
        format!("{over} over budget")
    });
    match c.removed.len() {
        0 => {}
        1..=4 => tail.push(format!(
            "not measured in this run: {}",
            c.removed.join(", ")
        )),
        n => tail.push(format!(
            "{n} benchmarks of the baseline not measured in this run"
        )),
    }
    if let Some(t) = c.threshold {
        tail.push(format!("gate: failure tier or ×{t} slower"));
    }
    let failing = c.rows.iter().filter(|r| r.fails).count();
    if failing > 0 {
        tail.push(format!("{failing} FAIL"));
    }
    let _ = writeln!(out, "\n{}", tail.join(" · "));
    out
}

fn summary_cells(r: &Row) -> [String; 9] {
    let value = |m: &crate::model::verdicts::Metrics| {
        m.headline()
            .map_or("—".into(), |v| fmt_value(v, r.category))
    };
    let (change, p, verdict) = match r.decision {
        Some(d) => (
            // A speed-up reads better as a factor.
            if d.ratio < 0.8 {
                format!("{} (×{:.1})", fmt_change(d.change()), 1.0 / d.ratio)
            } else {
                fmt_change(d.change())
            },
            d.interval.map_or("—".into(), |(lo, hi)| {
                format!(
                    "{} {}",
                    crate::model::sequential::pct(lo),
                    crate::model::sequential::pct(hi)
                )
            }),
            format!("{}{}", d.verdict, if r.fails { " FAIL" } else { "" }),
        ),
        None if r.old.is_none() => ("—".into(), "—".into(), "NEW".into()),
        None => ("—".into(), "—".into(), "—".into()),
    };
    let budget = match r.budget.fraction {
        Some(f) if r.budget.over => format!("OVER {:.0}%", f * 100.0),
        Some(f) => format!("ok {:.0}%", f * 100.0),
        None => "—".into(),
    };
    [
        r.name.clone(),
        r.category.to_string(),
        value(&r.new),
        r.old.as_ref().map_or("—".into(), value),
        change,
        p,
        verdict,
        budget,
        // Time moves a few percent from run to run: a 10 % frame.
        crate::render::sparkline::render(
            &r.trend,
            16,
            if r.category == Category::Memory {
                0.02
            } else {
                0.10
            },
        ),
    ]
}

/// Columns padded to their widest cell; Markdown gets pipes and a rule.
pub fn table<const N: usize>(header: &[&str; N], rows: &[[String; N]], md: bool) -> String {
    let mut width = header.map(|h| h.chars().count());
    for r in rows {
        for (w, cell) in width.iter_mut().zip(r) {
            *w = (*w).max(cell.chars().count());
        }
    }
    let line = |cells: Vec<&str>| -> String {
        let padded: Vec<String> = cells
            .iter()
            .zip(width)
            .map(|(c, w)| format!("{c}{}", " ".repeat(w - c.chars().count())))
            .collect();
        if md {
            format!("| {} |\n", padded.join(" | "))
        } else {
            format!("{}\n", padded.join("  ").trim_end())
        }
    };
    let mut out = line(header.to_vec());
    if md {
        let rule: Vec<String> = width.iter().map(|w| "-".repeat(*w)).collect();
        out.push_str(&format!("|-{}-|\n", rule.join("-|-")));
    }
    for r in rows {
        out.push_str(&line(r.iter().map(String::as_str).collect()));
    }
    out
}

/// The requirements' `[BENCH-RUNNER]` block for one benchmark. In Markdown,
/// the lines outside the table end in two spaces (hard line breaks), so it
/// renders as it reads.
pub fn block(c: &Comparison, r: &Row, md: bool) -> String {
    let br = if md { "  " } else { "" };
    let mut out = String::new();
    let _ = writeln!(out, "[BENCH-RUNNER]\n");
    let _ = writeln!(out, "Benchmark: {}{br}", r.name);
    let _ = writeln!(out, "Category: {}\n", r.category);
    let _ = writeln!(out, "Results:");
    let base = r.old.as_ref();
    let dash = || "—".to_string();
    let time_row = |metric: &str, new: Option<f64>, old: Option<f64>| -> [String; 4] {
        [
            metric.to_string(),
            new.map_or_else(dash, fmt_ns),
            old.map_or_else(dash, fmt_ns),
            match (new, old) {
                (Some(n), Some(o)) => fmt_change(n / o - 1.0),
                _ => dash(),
            },
        ]
    };
    let rows: Vec<[String; 4]> = if r.category == Category::Memory {
        let (n, o) = (r.new.bytes, base.and_then(|b| b.bytes));
        vec![[
            "bytes".to_string(),
            n.map_or_else(dash, |b| format!("{b}B")),
            o.map_or_else(dash, |b| format!("{b}B")),
            match (n, o) {
                (Some(n), Some(o)) => fmt_change(n as f64 / o as f64 - 1.0),
                _ => dash(),
            },
        ]]
    } else {
        let (na, oa) = (r.new.allocs, base.and_then(|b| b.allocs));
        vec![
            time_row("mean", r.new.mean, base.and_then(|b| b.mean)),
            time_row("p99", r.new.p99, base.and_then(|b| b.p99)),
            [
                "allocs".to_string(),
                na.map_or_else(dash, fmt_count),
                oa.map_or_else(dash, fmt_count),
                match (na, oa) {
                    (Some(n), Some(o)) => fmt_delta(n - o),
                    _ => dash(),
                },
            ],
        ]
    };
    out.push_str(&table(
        &["Metric", "Value", "Baseline", "Change"],
        &rows,
        true,
    ));
    out.push('\n');
    let t = match r.decision {
        None if c.old.is_none() => {
            "NO BASELINE (nothing to compare with; see the budget)".to_string()
        }
        None => "NEW (the baseline did not measure it)".to_string(),
        Some(d) => {
            let basis = match d.interval_text() {
                Some(interval) => format!(
                    "{}, {interval} over {} vs {} rounds",
                    fmt_change(d.change()),
                    r.new.rounds,
                    base.map_or(0, |b| b.rounds)
                ),
                None => format!("{} bytes", fmt_change(d.change())),
            };
            format!(
                "{}{} ({basis})",
                d.verdict,
                if r.fails { ", fails the gate" } else { "" }
            )
        }
    };
    let _ = writeln!(out, "Verdict: {t}{br}");
    let budget = match r.budget.fraction {
        Some(f) => format!(
            "{} ({} against {}, {:.0}%)",
            if r.budget.over { "OVER" } else { "OK" },
            r.new
                .headline()
                .map_or("?".into(), |v| fmt_value(v, r.category)),
            fmt_target(r.budget.target),
            f * 100.0
        ),
        None => "—".to_string(),
    };
    let _ = writeln!(out, "Budget: {budget}");
    let slower = r
        .decision
        .is_some_and(|d| matches!(d.verdict, Verdict::Warning | Verdict::Regression));
    if slower {
        let _ = writeln!(out, "\nHotspots:{br}");
        if r.hotspots.is_empty() {
            let _ = writeln!(out, "(not profiled){br}");
        }
        for (i, h) in r.hotspots.iter().enumerate() {
            let _ = match h.growth {
                Some(g) => writeln!(
                    out,
                    "{}. {} - {:.0}% → {:.0}% of time ({:+.1}% of the baseline's time){br}",
                    i + 1,
                    crate::stacks::elide_generics(&h.function),
                    g.before_pct,
                    h.percent,
                    g.growth_pct
                ),
                None => writeln!(
                    out,
                    "{}. {} - {:.0}% of time{br}",
                    i + 1,
                    h.function,
                    h.percent
                ),
            };
        }
        for n in &r.hotspot_notes {
            let _ = writeln!(out, "({n}){br}");
        }
    }
    let _ = writeln!(out, "\nRecommendations:");
    for rec in &r.recommendations {
        let _ = writeln!(out, "- {rec}");
    }
    out
}

/// `+3`, `-1`, `+0.5`: the seed's allocation change.
fn fmt_delta(d: f64) -> String {
    if d.abs() < 0.05 {
        "+0".to_string()
    } else if (d - d.round()).abs() < 0.05 {
        format!("{d:+.0}")
    } else {
        format!("{d:+.1}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fixtures::{budgets, suite};
    use crate::model::verdicts::Hotspot;

    fn regressed() -> Comparison {
        let old = suite("20261124-120000-1111111", "1111111111aaaa", 41_509.0, 0.0);
        let new = suite(
            "20261124-130000-2222222",
            "2222222222bbbb",
            41_509.0 * 1.28,
            2.0,
        );
        let mut c = Comparison::build(
            &budgets(),
            ("run 20261124-130000-2222222", &new),
            Some(("baseline `main`", &old)),
            Some(1.25),
        );
        let r = c
            .rows
            .iter_mut()
            .find(|r| r.name == "encrypt_record_64k")
            .unwrap();
        // Four earlier runs, one missing it, then this one.
        r.trend = vec![
            Some(41_509.0),
            Some(41_700.0),
            None,
            Some(41_400.0),
            Some(53_131.0),
        ];
        r.hotspots = vec![
            Hotspot {
                growth: None,
                function: "chacha20::backends::avx2::rounds".into(),
                percent: 61.0,
            },
            Hotspot {
                growth: None,
                function: "poly1305::backend::avx2::State::compute_block".into(),
                percent: 22.0,
            },
            Hotspot {
                growth: None,
                function: "alloc::raw_vec::finish_grow".into(),
                percent: 9.0,
            },
        ];
        c.refresh_recommendations(&new, Some(&old));
        c
    }

    #[test]
    fn snapshot_regression_report_text() {
        insta::assert_snapshot!(render(&regressed(), Format::Text));
    }

    #[test]
    fn snapshot_summary_markdown_unchanged() {
        let old = suite("20261124-120000-1111111", "1111111111aaaa", 41_509.0, 0.0);
        let mut new = suite(
            "20261124-130000-1111111-dirty",
            "1111111111aaaa",
            41_509.0,
            0.0,
        );
        new.dirty = true;
        new.build.toolchain = "rustc 1.96.0 (0000000 2026-06-01)".into();
        new.benchmarks.remove("connection_state_size");
        let c = Comparison::build(
            &budgets(),
            ("run 20261124-130000-1111111-dirty", &new),
            Some(("baseline `main`", &old)),
            None,
        );
        insta::assert_snapshot!(summary(&c, true));
    }

    #[test]
    fn snapshot_first_run_without_baseline() {
        let new = suite("20261124-130000-2222222", "2222222222bbbb", 41_509.0, 0.0);
        let c = Comparison::build(
            &budgets(),
            ("run 20261124-130000-2222222", &new),
            None,
            None,
        );
        insta::assert_snapshot!(render(&c, Format::Text));
    }

    #[test]
    fn json_report_carries_the_decisions() {
        let v: serde_json::Value =
            serde_json::from_str(&render(&regressed(), Format::Json)).unwrap();
        let rows = v["rows"].as_array().unwrap();
        let r = rows
            .iter()
            .find(|r| r["name"] == "encrypt_record_64k")
            .unwrap();
        assert_eq!(r["decision"]["verdict"], "REGRESSION");
        assert_eq!(r["fails"], true);
        assert_eq!(r["budget"]["target"], "150000 ns");
    }
}
