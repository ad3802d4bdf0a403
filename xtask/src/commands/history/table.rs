//! The history for people: a row per series, then every change point with
//! its commands and what `--explain` found.

use super::*;

/// The history for people: a row per series, then every change point
/// with its commands (and what `--explain` found).
pub fn render(h: &History) -> String {
    let mut out = String::new();
    let n = h.commits.len();
    let measured = h.commits.iter().filter(|p| p.measured).count();
    let _ = writeln!(
        out,
        "zp history: {} benchmarks over {n} commits, {} to {}{}",
        h.benches.len(),
        short(&h.commits[0].commit.id),
        short(&h.commits[n - 1].commit.id),
        if h.shards.is_empty() {
            String::new()
        } else {
            format!(
                " (shard{} {})",
                if h.shards.len() == 1 { "" } else { "s" },
                h.shards
                    .iter()
                    .map(Shard::to_string)
                    .collect::<Vec<_>>()
                    .join(", ")
            )
        }
    );
    let _ = writeln!(
        out,
        "measured {measured} commits; {} left to other shards; {} commits without relevant changes left out",
        h.commits.iter().filter(|p| p.elsewhere()).count(),
        h.irrelevant
    );
    for p in h.commits.iter().filter(|p| p.skipped.is_some()) {
        let _ = writeln!(
            out,
            "  skipped {} {}: {}",
            short(&p.commit.id),
            clip(&p.commit.subject, 60),
            p.skipped.as_deref().unwrap_or("")
        );
    }
    let _ = writeln!(
        out,
        "cost: {} probes built, {} measurements, {} values from the cache, {:.0} s",
        h.cost.builds, h.cost.measurements, h.cost.cached, h.cost.wall_s
    );
    for note in &h.notes {
        let _ = writeln!(out, "note: {note}");
    }
    if let Some(l) = &h.time_load {
        let _ = writeln!(
            out,
            "time measured with {}; {}",
            l.clock.name(),
            l.describe()
        );
    }
    out.push('\n');
    let mut rows: Vec<[String; 6]> = Vec::new();
    for (name, b) in &h.benches {
        for (kind, values) in &b.series {
            let present: Vec<f64> = values.iter().flatten().copied().collect();
            let (first, last) = match (present.first(), present.last()) {
                (Some(f), Some(l)) => (*f, *l),
                _ => {
                    rows.push([
                        name.clone(),
                        kind.unit().into(),
                        "-".into(),
                        "-".into(),
                        "-".into(),
                        "not measured".into(),
                    ]);
                    continue;
                }
            };
            let n_changes = h
                .changes
                .iter()
                .filter(|c| c.bench == *name && c.kind == *kind)
                .count();
            rows.push([
                name.clone(),
                kind.unit().into(),
                kind.format(first),
                kind.format(last),
                format!("{:+.1}%", (last / first - 1.0) * 100.0),
                format!(
                    "{}  {}",
                    crate::render::sparkline::render(
                        values,
                        60,
                        if kind.exact() { 0.02 } else { 0.10 }
                    ),
                    match n_changes {
                        0 => String::new(),
                        1 => "1 change".into(),
                        k => format!("{k} changes"),
                    }
                ),
            ]);
        }
    }
    out.push_str(&crate::render::report::table(
        &[
            "benchmark",
            "unit",
            "first",
            "last",
            "change",
            "history (oldest → newest)",
        ],
        &rows,
        false,
    ));
    out.push('\n');
    if h.changes.is_empty() {
        let _ = writeln!(out, "no change points");
        return out;
    }
    let _ = writeln!(out, "change points ({}):", h.changes.len());
    for c in &h.changes {
        let p = &h.commits[c.at].commit;
        let _ = writeln!(
            out,
            "  {} {} {} {:+.1}%{} ({} → {}) at {} {} ({}, commit {} of {n}){}",
            if !c.decided() {
                "? cannot decide yet"
            } else if c.improvement() {
                "▼ faster"
            } else {
                "▲ slower"
            },
            c.bench,
            c.kind.name(),
            (c.point.ratio - 1.0) * 100.0,
            if c.kind.exact() {
                String::new()
            } else {
                format!(
                    " [{:+.1}%, {:+.1}%]",
                    (c.point.low - 1.0) * 100.0,
                    (c.point.high - 1.0) * 100.0
                )
            },
            c.kind.format(c.point.before),
            c.kind.format(c.point.after),
            short(&c.commit),
            clip(&p.subject, 60),
            &p.date[..p.date.len().min(10)],
            c.at + 1,
            if c.kind.exact() {
                String::new()
            } else {
                format!(", p = {:.3}", c.point.p)
            }
        );
        if let Some(why) = &c.undecided {
            let _ = writeln!(
                out,
                "      cannot decide yet: {why}; the bisect below decides it in paired rounds"
            );
        }
        if c.harness_only {
            let _ = writeln!(
                out,
                "      only the benchmark harness changed there (zp/benches/, probe-protocol/): the measurement moved, not zp"
            );
        }
        for cmd in &c.commands {
            let _ = writeln!(out, "      {cmd}");
        }
        if let Some(e) = &c.explained {
            let _ = writeln!(out, "      explained: {}", e.summary);
            for hs in e.hotspots.iter().take(3) {
                let _ = writeln!(
                    out,
                    "        {:+6.1}%  {} ({:.1}% → {:.1}% of the time)",
                    hs.growth_pct, hs.function, hs.before_pct, hs.after_pct
                );
            }
            for note in &e.notes {
                let _ = writeln!(out, "        note: {note}");
            }
        }
    }
    out
}
