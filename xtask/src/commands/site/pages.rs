//! The site's HTML pages: the index, a page per benchmark, a page per
//! bisect; static, self-contained, every plot an inline SVG.

use super::*;

pub(super) const STYLE: &str = r#"body { font: 15px/1.45 system-ui, sans-serif; margin: 0 auto; max-width: 1100px; padding: 1em 2em; color: #222; }
h1 { font-size: 1.6em; margin-bottom: 0.2em; } h2 { margin-top: 1.6em; border-bottom: 1px solid #ddd; }
nav { font-size: 0.9em; margin-bottom: 1em; } .meta { color: #666; font-size: 0.9em; }
table { border-collapse: collapse; width: 100%; font-size: 0.92em; }
th, td { text-align: left; padding: 0.3em 0.6em; border-bottom: 1px solid #eee; vertical-align: middle; }
td.num { text-align: right; font-variant-numeric: tabular-nums; white-space: nowrap; }
code { font-size: 0.9em; background: #f4f4f4; padding: 0.1em 0.3em; border-radius: 3px; }
figure.plot { margin: 0.6em 0; } figure.plot svg { max-width: 100%; height: auto; }
td figure.plot { margin: 0; } figcaption { color: #555; font-size: 0.88em; }
.verdict { font-weight: 600; padding: 0.1em 0.5em; border-radius: 3px; font-size: 0.85em; }
.REGRESSION { background: #fbd5d5; color: #9b1c1c; } .WARNING { background: #feecdc; color: #8a2c0d; }
.IMPROVEMENT { background: #def7ec; color: #03543f; } .PASS { background: #eef; color: #334; }
.INCONCLUSIVE { background: #f3f3f3; color: #555; }
.bar { display: inline-block; height: 0.6em; background: #7aa6d6; vertical-align: middle; margin-left: 0.4em; }
.bar.over { background: #d66; }
.slower { color: #b91c1c; } .faster { color: #047857; }
object.flame { width: 100%; min-height: 420px; border: 1px solid #ddd; }
"#;

pub(super) fn esc(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// A whole page; `up` is the way back to the site's root ("" or "../").
pub(super) fn page(title: &str, up: &str, plots: usize, body: &str) -> String {
    format!(
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n<title>{}</title>\n<link rel=\"stylesheet\" href=\"{up}style.css\">\n</head>\n<body data-plots=\"{plots}\">\n<nav><a href=\"{up}index.html\">zp performance</a></nav>\n{body}\n</body>\n</html>\n",
        esc(title)
    )
}

/// A plot in its figure (the browser check counts these).
pub(super) fn figure(name: &str, svg: &str, caption: &str) -> String {
    let caption = if caption.is_empty() {
        String::new()
    } else {
        format!("<figcaption>{caption}</figcaption>")
    };
    format!(
        "<figure class=\"plot\" data-plot=\"{}\">{svg}{caption}</figure>",
        esc(name)
    )
}

pub(super) fn commit_link(inputs: &Inputs, id: &str) -> String {
    match &inputs.commit_url {
        Some(u) => format!("<a href=\"{u}{id}\"><code>{}</code></a>", short(id)),
        None => format!("<code title=\"{id}\">{}</code>", short(id)),
    }
}

pub(super) fn verdict_badge(v: Option<crate::model::decide::Verdict>) -> String {
    match v {
        Some(v) => format!("<span class=\"verdict {v}\">{v}</span>"),
        None => "<span class=\"meta\">no baseline</span>".into(),
    }
}

/// A series for a sparkline, with its change points (index, improvement).
pub(super) struct Trend {
    pub(super) kind: Kind,
    pub(super) values: Vec<Option<f64>>,
    pub(super) changes: Vec<(usize, bool)>,
}

/// The series a sparkline shows: the history's instruction counts, else
/// its time or sizes, else the stored runs' medians.
pub(super) fn trend(inputs: &Inputs, b: &Budget) -> Option<Trend> {
    if let Some((_, h)) = &inputs.history {
        for kind in [Kind::Instructions, Kind::Bytes, Kind::Time] {
            if let Some(s) = h.series(&b.name, kind)
                && s.iter().any(Option::is_some)
            {
                let changes = h
                    .changes
                    .iter()
                    .filter(|c| c.bench == b.name && c.kind == kind && c.decided())
                    .map(|c| (c.at, c.improvement()))
                    .collect();
                return Some(Trend {
                    kind,
                    values: s.to_vec(),
                    changes,
                });
            }
        }
    }
    let values = run_values(inputs, b);
    (!values.is_empty()).then(|| {
        let kind = if b.category == Category::Memory {
            Kind::Bytes
        } else {
            Kind::Time
        };
        Trend {
            kind,
            values: values.iter().map(|(_, v)| Some(*v)).collect(),
            changes: Vec::new(),
        }
    })
}

/// The headline of `b` in every stored run that has it: (run id, value).
pub(super) fn run_values(inputs: &Inputs, b: &Budget) -> Vec<(String, f64)> {
    inputs
        .runs
        .iter()
        .filter_map(|r| Some((r.id.clone(), r.headline(&b.name)?)))
        .collect()
}

pub(super) fn index_page(inputs: &Inputs) -> Result<(String, usize)> {
    let mut body = String::new();
    let mut plots = 0;
    let _ = writeln!(body, "<h1>zp performance</h1>");
    let _ = write!(
        body,
        "<p class=\"meta\">Generated {}",
        esc(&inputs.generated)
    );
    if let Some((path, h)) = &inputs.history {
        let n = h.commits.len();
        let _ = write!(
            body,
            " · history of {n} commits, {} to {} ({}; {} change points; <code>{}</code>)",
            commit_link(inputs, &h.commits[0].commit.id),
            commit_link(inputs, &h.commits[n - 1].commit.id),
            h.kinds
                .iter()
                .map(|k| k.name())
                .collect::<Vec<_>>()
                .join(" and "),
            h.changes.len(),
            esc(&path.file_name().unwrap_or_default().to_string_lossy())
        );
    }
    if let Some(l) = &inputs.last {
        let c = &l.comparison;
        let _ = write!(body, " · latest run <code>{}</code>", esc(&c.new.id));
        if let Some(o) = &c.old {
            let _ = write!(body, " against {}", esc(&o.label));
        }
    }
    body.push_str("</p>\n");
    for n in &inputs.notes {
        let _ = writeln!(body, "<p class=\"meta\">Note: {}</p>", esc(n));
    }
    body.push_str("<table>\n<tr><th>benchmark</th><th>category</th><th>history</th><th>latest</th><th>budget</th><th>verdict</th><th>changes</th></tr>\n");
    for b in &inputs.budgets {
        let row = inputs
            .last
            .as_ref()
            .and_then(|l| l.comparison.rows.iter().find(|r| r.name == b.name));
        let spark = match trend(inputs, b) {
            Some(Trend {
                kind,
                values,
                changes,
            }) => {
                plots += 1;
                figure(
                    &format!("sparkline-{}", b.name),
                    &sparkline_svg(&values, &changes)?,
                    "",
                )
                .replace(
                    "</figure>",
                    &format!("<span class=\"meta\">{}</span></figure>", kind.unit()),
                )
            }
            None => "<span class=\"meta\">no data</span>".into(),
        };
        let (latest, budget) = match row {
            Some(r) => {
                let v = r.new.headline();
                let frac = r.budget.fraction.unwrap_or(0.0);
                (
                    v.map_or("—".into(), |v| fmt_value(v, b.category)),
                    format!(
                        "{} {:.0}%<span class=\"bar{}\" style=\"width:{:.0}px\"></span>",
                        esc(&fmt_target(b.target)),
                        frac * 100.0,
                        if r.budget.over { " over" } else { "" },
                        (frac.min(1.5) * 60.0).max(1.0)
                    ),
                )
            }
            None => ("—".into(), esc(&fmt_target(b.target))),
        };
        let changes: Vec<String> = inputs
            .history
            .iter()
            .flat_map(|(_, h)| h.changes.iter().filter(|c| c.bench == b.name))
            .map(|c| {
                format!(
                    "<span class=\"{}\">{:+.1}%{}</span> at {}",
                    match (c.decided(), c.improvement()) {
                        (false, _) => "undecided",
                        (true, true) => "faster",
                        (true, false) => "slower",
                    },
                    (c.point.ratio - 1.0) * 100.0,
                    if c.decided() {
                        ""
                    } else {
                        " (cannot decide yet)"
                    },
                    commit_link(inputs, &c.commit)
                )
            })
            .collect();
        let _ = writeln!(
            body,
            "<tr><td><a href=\"bench/{name}.html\">{name}</a></td><td>{}</td><td>{spark}</td><td class=\"num\">{latest}</td><td class=\"num\">{budget}</td><td>{}</td><td>{}</td></tr>",
            b.category,
            verdict_badge(row.and_then(|r| r.decision.map(|d| d.verdict))),
            if changes.is_empty() {
                "—".into()
            } else {
                changes.join("<br>")
            },
            name = esc(&b.name),
        );
    }
    body.push_str("</table>\n");
    if let Some((_, h)) = &inputs.history {
        let _ = writeln!(body, "<h2>Change points ({})</h2>", h.changes.len());
        body.push_str(&changes_table(inputs, h, None));
    }
    let _ = writeln!(body, "<h2>Bisects ({})</h2>", inputs.bisects.len());
    if inputs.bisects.is_empty() {
        body.push_str("<p class=\"meta\">None stored: <code>cargo xtask bisect BENCH</code> finds the commit that made BENCH slower.</p>\n");
    } else {
        body.push_str("<ul>\n");
        for (stem, r) in inputs.bisects.iter().rev() {
            let _ = writeln!(
                body,
                "<li><a href=\"bisect/{}.html\">{}</a>: {}</li>",
                esc(stem),
                esc(&r.bench),
                esc(&r.headline())
            );
        }
        body.push_str("</ul>\n");
    }
    Ok((page("zp performance", "", plots, &body), plots))
}

/// The change points of the history (of one benchmark when `bench`).
pub(super) fn changes_table(inputs: &Inputs, h: &History, bench: Option<&str>) -> String {
    let picked: Vec<&history::Change> = h
        .changes
        .iter()
        .filter(|c| bench.is_none_or(|b| c.bench == b))
        .collect();
    if picked.is_empty() {
        return "<p class=\"meta\">No change points.</p>\n".into();
    }
    let mut out = String::from(
        "<table>\n<tr><th>commit</th><th>benchmark</th><th>metric</th><th>change</th><th>95% interval</th><th>subject</th><th>explain</th></tr>\n",
    );
    for c in picked {
        let p = &h.commits[c.at].commit;
        let mut explain: Vec<String> = c
            .commands
            .iter()
            .map(|cmd| format!("<code>{}</code>", esc(cmd)))
            .collect();
        if c.harness_only {
            explain.insert(
                0,
                "<em>Only the benchmark harness changed here: the measurement moved, not zp.</em>"
                    .into(),
            );
        }
        if let Some(e) = &c.explained {
            explain.push(esc(&e.summary));
            for hs in e.hotspots.iter().take(3) {
                explain.push(format!(
                    "{:+.1}% {} ({:.1}% → {:.1}%)",
                    hs.growth_pct,
                    esc(&hs.function),
                    hs.before_pct,
                    hs.after_pct
                ));
            }
        }
        let _ = writeln!(
            out,
            "<tr><td>{}</td><td><a href=\"{}bench/{b}.html\">{b}</a></td><td>{}</td><td class=\"num {}\">{:+.1}%</td><td class=\"num\">{}</td><td>{}</td><td>{}</td></tr>",
            commit_link(inputs, &c.commit),
            if bench.is_some() { "../" } else { "" },
            c.kind.name(),
            if c.improvement() { "faster" } else { "slower" },
            (c.point.ratio - 1.0) * 100.0,
            if c.kind.exact() {
                "exact".to_string()
            } else {
                format!(
                    "{:+.1}% … {:+.1}%",
                    (c.point.low - 1.0) * 100.0,
                    (c.point.high - 1.0) * 100.0
                )
            },
            esc(&p.subject),
            explain.join("<br>"),
            b = esc(&c.bench),
        );
    }
    out.push_str("</table>\n");
    out
}

pub(super) fn bench_page(inputs: &Inputs, b: &Budget, flames: &Flames) -> Result<(String, usize)> {
    let mut body = String::new();
    let mut plots = 0;
    let _ = writeln!(body, "<h1>{}</h1>", esc(&b.name));
    let _ = writeln!(
        body,
        "<p>{} · {} · budget {}</p>",
        esc(&b.description),
        b.category,
        esc(&fmt_target(b.target))
    );
    let budget = match b.target {
        Target::Nanos(ns) => (Kind::Time, ns),
        Target::Bytes(by) => (Kind::Bytes, by as f64),
    };
    body.push_str("<h2>History</h2>\n");
    match &inputs.history {
        Some((_, h)) => {
            let labels: Vec<String> = h
                .commits
                .iter()
                .map(|p| short(&p.commit.id).to_string())
                .collect();
            let mut any = false;
            for kind in [Kind::Instructions, Kind::Time, Kind::Bytes] {
                let Some(values) = h.series(&b.name, kind) else {
                    continue;
                };
                if values.iter().all(Option::is_none) {
                    continue;
                }
                any = true;
                let changes: Vec<(usize, bool)> = h
                    .changes
                    .iter()
                    .filter(|c| c.bench == b.name && c.kind == kind)
                    .map(|c| (c.at, c.improvement()))
                    .collect();
                let svg = series_svg(&SeriesPlot {
                    title: &format!("{} per commit", kind.unit()),
                    x_desc: "commit, oldest → newest",
                    kind,
                    values,
                    labels: &labels,
                    changes: &changes,
                    budget: (budget.0 == kind).then_some(budget.1),
                })?;
                plots += 1;
                body.push_str(&figure(
                    &format!("history-{}", kind.name()),
                    &svg,
                    &format!(
                        "Every relevant commit, oldest left; change points as vertical lines (red slower, green faster){}.",
                        if budget.0 == kind { "; the budget dashed" } else { "" }
                    ),
                ));
            }
            if !any {
                body.push_str("<p class=\"meta\">Not in the stored history.</p>\n");
            }
            body.push_str(&changes_table(inputs, h, Some(&b.name)));
            body.push_str("<details><summary>Every commit</summary>\n<table>\n<tr><th>#</th><th>commit</th><th>date</th><th>subject</th>");
            let kinds: Vec<Kind> = [Kind::Instructions, Kind::Time, Kind::Bytes]
                .into_iter()
                .filter(|k| h.series(&b.name, *k).is_some())
                .collect();
            for k in &kinds {
                let _ = write!(body, "<th>{}</th>", k.unit());
            }
            body.push_str("</tr>\n");
            for (i, p) in h.commits.iter().enumerate() {
                let _ = write!(
                    body,
                    "<tr><td class=\"num\">{}</td><td>{}</td><td>{}</td><td>{}</td>",
                    i + 1,
                    commit_link(inputs, &p.commit.id),
                    esc(&p.commit.date[..p.commit.date.len().min(10)]),
                    esc(&p.commit.subject)
                );
                for k in &kinds {
                    let v = h.series(&b.name, *k).and_then(|s| s[i]);
                    let _ = write!(
                        body,
                        "<td class=\"num\">{}</td>",
                        match (v, &p.skipped) {
                            (Some(v), _) => k.format(v),
                            (None, Some(why)) =>
                                format!("<span title=\"{}\">skipped</span>", esc(why)),
                            (None, None) => "—".into(),
                        }
                    );
                }
                body.push_str("</tr>\n");
            }
            body.push_str("</table>\n</details>\n");
        }
        None => body.push_str(
            "<p class=\"meta\">No history stored: <code>cargo xtask history</code>.</p>\n",
        ),
    }

    body.push_str("<h2>Stored runs</h2>\n");
    let runs = run_values(inputs, b);
    if runs.is_empty() {
        body.push_str(
            "<p class=\"meta\">No stored run has it: <code>cargo xtask bench</code>.</p>\n",
        );
    } else {
        let labels: Vec<String> = runs
            .iter()
            .map(|(id, _)| id.chars().take(15).collect())
            .collect();
        let values: Vec<Option<f64>> = runs.iter().map(|(_, v)| Some(*v)).collect();
        let svg = series_svg(&SeriesPlot {
            title: &format!("{} per stored run", budget.0.unit()),
            x_desc: "stored run, oldest → newest",
            kind: budget.0,
            values: &values,
            labels: &labels,
            changes: &[],
            budget: Some(budget.1),
        })?;
        plots += 1;
        body.push_str(&figure(
            "runs",
            &svg,
            "The headline of every stored run (median time or size), oldest left, with the budget dashed.",
        ));
    }

    if let Some(l) = &inputs.last
        && let Some(new) = l.new.benchmarks.get(&b.name).and_then(|m| m.time.as_ref())
    {
        body.push_str("<h2>Last comparison</h2>\n");
        let old = l
            .old
            .as_ref()
            .and_then(|o| o.benchmarks.get(&b.name))
            .and_then(|m| m.time.as_ref());
        let row = l.comparison.rows.iter().find(|r| r.name == b.name);
        let old_label = l
            .comparison
            .old
            .as_ref()
            .map_or("—".to_string(), |o| o.label.clone());
        let svg = strip_svg(
            old.map(|t| t.round_medians.as_slice()).unwrap_or(&[]),
            &new.round_medians,
            &old_label,
            &format!("run {}", l.new.id),
        )?;
        plots += 1;
        body.push_str(&figure(
            "strip",
            &svg,
            &format!(
                "Round medians of each side (each dot one round; the bar their median). Verdict: {}{}",
                verdict_badge(row.and_then(|r| r.decision.map(|d| d.verdict))),
                row.and_then(|r| r.decision).map_or(String::new(), |d| format!(
                    " ({:+.1}%{})",
                    d.change() * 100.0,
                    d.interval_text()
                        .map_or(String::new(), |i| format!(", {i}"))
                ))
            ),
        ));
    }

    body.push_str("<h2>Flamegraphs</h2>\n");
    if flames.flame.is_none() && flames.diff.is_none() {
        let _ = writeln!(
            body,
            "<p class=\"meta\">None stored: <code>cargo xtask flame {}</code> (with <code>--diff REV</code> for a differential one).</p>",
            esc(&b.name)
        );
    }
    for (what, f) in [
        ("flamegraph", &flames.flame),
        ("differential flamegraph", &flames.diff),
    ] {
        if let Some(f) = f {
            let name = esc(&f.file_name().unwrap_or_default().to_string_lossy());
            let _ = writeln!(
                body,
                "<h3>{what}: <a href=\"../flame/{name}\">{name}</a></h3>\n<object class=\"flame\" type=\"image/svg+xml\" data=\"../flame/{name}\"></object>"
            );
        }
    }
    Ok((page(&b.name, "../", plots, &body), plots))
}

pub(super) fn bisect_page(inputs: &Inputs, stem: &str, r: &Report) -> Result<(String, usize)> {
    let mut body = String::new();
    let _ = writeln!(body, "<h1>Bisect of {}</h1>", esc(&r.bench));
    let _ = writeln!(body, "<p>{}</p>", esc(&r.headline()));
    let _ = writeln!(
        body,
        "<p class=\"meta\">{} candidates from {} to {}, measured in {}; {} builds, {} measurements ({} from the cache), {:.0} s. <code>{}</code></p>",
        r.commits.len(),
        commit_link(inputs, &r.commits[0].id),
        commit_link(inputs, &r.commits[r.commits.len() - 1].id),
        r.answer.metric.name(),
        r.builds,
        r.measurements,
        r.cached,
        r.wall_s,
        esc(stem)
    );
    let svg = bisect_svg(r)?;
    let mut body_plots = figure(
        "bisect",
        &svg,
        "Each measured commit's median against its position: green good-like, red bad-like, grey skipped (drawn at the bottom); the step dashed.",
    );
    body_plots.push('\n');
    body.push_str(&body_plots);
    body.push_str("<table>\n<tr><th>#</th><th>commit</th><th>subject</th><th>class</th><th>median</th><th>observations</th></tr>\n");
    let mut visits: Vec<&crate::model::search::Visit> = r.answer.outcome.visits.iter().collect();
    visits.sort_by_key(|v| v.index);
    for v in visits {
        let c = &r.commits[v.index];
        let _ = writeln!(
            body,
            "<tr><td class=\"num\">{}</td><td>{}</td><td>{}</td><td>{:?}</td><td class=\"num\">{}</td><td class=\"num\">{}</td></tr>",
            v.index,
            commit_link(inputs, &c.id),
            esc(&c.subject),
            v.class,
            if v.samples.is_empty() {
                "—".into()
            } else {
                value_of(r, median(&v.samples))
            },
            v.samples.len()
        );
    }
    body.push_str("</table>\n");
    if !r.hotspots.is_empty() {
        body.push_str("<h2>Hotspots, parent → culprit</h2>\n<table>\n<tr><th>function</th><th>before</th><th>after</th><th>growth</th></tr>\n");
        for h in &r.hotspots {
            let _ = writeln!(
                body,
                "<tr><td><code>{}</code></td><td class=\"num\">{:.1}%</td><td class=\"num\">{:.1}%</td><td class=\"num\">{:+.1}%</td></tr>",
                esc(&h.function),
                h.before_pct,
                h.after_pct,
                h.growth_pct
            );
        }
        body.push_str("</table>\n");
    }
    for n in &r.hotspot_notes {
        let _ = writeln!(body, "<p class=\"meta\">Note: {}</p>", esc(n));
    }
    Ok((page(&format!("bisect {}", r.bench), "../", 1, &body), 1))
}

pub(super) fn value_of(r: &Report, v: f64) -> String {
    match r.answer.metric {
        crate::model::search::Metric::Instructions => format!("{v:.0} instr"),
        crate::model::search::Metric::Time => fmt_ns(v),
    }
}
