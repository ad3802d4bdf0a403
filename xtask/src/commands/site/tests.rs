//! The site's pages, written from simulated inputs (50 commits of every
//! benchmark, two runs, a bisect, a flamegraph): each parses as HTML, has
//! the plots it declares, and links only to files that exist.

use super::*;
use crate::model::search::{Answer, Metric, Outcome, Step, Visit};
use crate::model::series::{Bench, Cost, Point, SCHEMA};
use crate::storage::builds::BuildKey;
use crate::vcs::git::CommitInfo;
use scraper::{Html, Selector};

fn info(i: usize) -> CommitInfo {
    CommitInfo {
        id: format!("{i:02x}{}", "c".repeat(38)),
        subject: format!("zp: change <{i}> & more"),
        author: "a".into(),
        date: "2026-11-24T00:00:00Z".into(),
        relevant_files: vec!["zp/src/record.rs".into()],
    }
}

/// `n` commits of every benchmark in the budgets: flat, except
/// encrypt_record_64k, 10 % slower from commit 20 and back from 35.
fn history(n: usize) -> History {
    let budgets = crate::fixtures::budgets();
    let benches = budgets
        .benchmarks
        .iter()
        .enumerate()
        .map(|(k, b)| {
            let kind = if b.category == Category::Memory {
                Kind::Bytes
            } else {
                Kind::Instructions
            };
            let base = 1000.0 * (k + 1) as f64;
            let values = (0..n)
                .map(|i| {
                    let step = b.name == "encrypt_record_64k" && (20..35).contains(&i);
                    (i != 3).then_some(if step { base * 1.1 } else { base })
                })
                .collect();
            (
                b.name.clone(),
                Bench {
                    category: b.category,
                    series: BTreeMap::from([(kind, values)]),
                },
            )
        })
        .collect();
    let mut h = History {
        schema: SCHEMA.into(),
        created: "2026-11-24T00:00:00Z".into(),
        head: info(n - 1).id,
        build_key: BuildKey::of(BTreeMap::new()),
        valgrind: Some("valgrind-3.19.0".into()),
        cpu_features: vec!["aes".into()],
        counted_features: vec!["aes".into()],
        machine: "m".into(),
        kinds: vec![Kind::Instructions],
        shards: Vec::new(),
        irrelevant: 0,
        commits: (0..n)
            .map(|i| Point {
                commit: info(i),
                measured: i != 3,
                skipped: (i == 3).then(|| "does not build: error[E0425]".to_string()),
                probe: None,
            })
            .collect(),
        benches,
        changes: Vec::new(),
        notes: Vec::new(),
        cost: Cost::default(),
        time_load: None,
    };
    h.detect_changes();
    h
}

fn bisect_report(h: &History) -> Report {
    let commits: Vec<CommitInfo> = (17..23).map(info).collect();
    let visits = [
        (0, Class::Good, 1000.0),
        (5, Class::Bad, 1100.0),
        (2, Class::Good, 1000.0),
        (3, Class::Bad, 1100.0),
        (1, Class::Skipped, 0.0),
    ]
    .into_iter()
    .map(|(index, class, v)| Visit {
        index,
        class,
        samples: if v > 0.0 { vec![v] } else { Vec::new() },
        note: None,
    })
    .collect();
    Report {
        bench: "encrypt_record_64k".into(),
        choice: crate::cli::flags::MetricChoice::Instructions,
        threshold_pct: 5.0,
        commits,
        irrelevant: 2,
        answer: Answer {
            metric: Metric::Instructions,
            outcome: Outcome {
                total_ratio: 1.1,
                finding: Finding::Culprit {
                    step: Step {
                        parent: 2,
                        culprit: 3,
                        ratio: 1.1,
                        low: 1.1,
                        high: 1.1,
                        judgement: None,
                        share: 1.0,
                    },
                    other_steps: Vec::new(),
                },
                visits,
                reused: 0,
                load: None,
                observations: Vec::new(),
            },
            confirmation: None,
            unconfirmed: None,
            load: None,
        },
        hotspots: vec![crate::stacks::Change {
            function: "zp::record::seal_in_place".into(),
            before_pct: 60.0,
            after_pct: 64.0,
            growth_pct: 9.5,
            noise_pct: None,
        }],
        hotspot_notes: Vec::new(),
        hotspot_instrument: None,
        flamegraph: None,
        build_key: h.build_key.clone(),
        builds: 3,
        measurements: 4,
        cached: 0,
        repaired: Vec::new(),
        wall_s: 30.0,
    }
}

fn inputs(n: usize, flame_dir: &Path) -> Inputs {
    let budgets = crate::fixtures::budgets();
    let h = history(n);
    let old = crate::fixtures::suite("20261120-000000-aaaa", "aaaa", 1.0, 0.0);
    let new = crate::fixtures::suite("20261124-000000-bbbb", "bbbb", 1.4, 0.0);
    let comparison = Comparison::build(
        &budgets,
        ("run 20261124-000000-bbbb", &new),
        Some(("baseline `main`", &old)),
        None,
    );
    let flame = flame_dir.join("encrypt_record_64k-abc-vs-def-diff.svg");
    std::fs::write(
        &flame,
        "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"10\" height=\"10\"></svg>",
    )
    .unwrap();
    let report = bisect_report(&h);
    Inputs {
        budgets: budgets.benchmarks.clone(),
        history: Some((PathBuf::from("history-x.json"), h)),
        runs: vec![old.clone(), new.clone()],
        last: Some(Last {
            comparison,
            new,
            old: Some(old),
        }),
        flames: BTreeMap::from([(
            "encrypt_record_64k".to_string(),
            Flames {
                flame: None,
                diff: Some(flame),
            },
        )]),
        bisects: vec![("bisect-encrypt_record_64k-1".into(), report)],
        commit_url: Some("https://github.com/zp/zp/commit/".into()),
        notes: vec!["a note with <markup>".into()],
        generated: "2026-11-24T00:00:00Z".into(),
    }
}

/// Every page parses as HTML, declares as many plots as it has, every plot
/// is an SVG with drawn content, and every local link resolves.
#[test]
fn every_page_parses_and_every_plot_and_link_is_there() {
    let tmp = tempfile::tempdir().unwrap();
    let inputs = inputs(50, tmp.path());
    let dir = tmp.path().join("site");
    let started = std::time::Instant::now();
    let w = write(&inputs, &dir).unwrap();
    eprintln!(
        "site for 50 commits × {} benchmarks: {} pages, {} plots, {} bytes, {:.2} s",
        inputs.budgets.len(),
        w.pages,
        w.plots,
        w.bytes,
        started.elapsed().as_secs_f64()
    );
    assert_eq!(w.pages, 1 + inputs.budgets.len() + 1);
    assert!(w.bytes < 3 << 20, "{} bytes", w.bytes);
    let figures = Selector::parse("figure.plot").unwrap();
    let svg = Selector::parse("svg").unwrap();
    let drawn = Selector::parse("svg circle, svg polyline, svg path, svg line").unwrap();
    let body = Selector::parse("body").unwrap();
    let links = Selector::parse("a[href], link[href], object[data]").unwrap();
    let mut pages = 0;
    let mut plots = 0;
    for entry in walk(&dir) {
        if entry.extension().is_none_or(|x| x != "html") {
            continue;
        }
        pages += 1;
        let text = std::fs::read_to_string(&entry).unwrap();
        let doc = Html::parse_document(&text);
        assert!(
            doc.errors.is_empty(),
            "{}: {:?}",
            entry.display(),
            doc.errors
        );
        let declared: usize = doc
            .select(&body)
            .next()
            .and_then(|b| b.value().attr("data-plots"))
            .and_then(|n| n.parse().ok())
            .expect("data-plots on body");
        let found: Vec<_> = doc.select(&figures).collect();
        assert_eq!(found.len(), declared, "{}", entry.display());
        for f in &found {
            let s = f
                .select(&svg)
                .next()
                .unwrap_or_else(|| panic!("{}: a figure without svg", entry.display()));
            assert!(
                s.select(&drawn).count() >= 1,
                "{}: an empty plot {:?}",
                entry.display(),
                f.value().attr("data-plot")
            );
        }
        plots += found.len();
        for l in doc.select(&links) {
            let target = l.value().attr("href").or(l.value().attr("data")).unwrap();
            if target.starts_with("https://") {
                continue;
            }
            let file = entry.parent().unwrap().join(target);
            assert!(file.is_file(), "{}: broken link {target}", entry.display());
        }
        // Text from commits and notes is escaped, never markup.
        assert!(
            !text.contains("<markup>") && !text.contains("change <"),
            "{}",
            entry.display()
        );
    }
    assert_eq!((pages, plots), (w.pages, w.plots));

    let index = std::fs::read_to_string(dir.join("index.html")).unwrap();
    let doc = Html::parse_document(&index);
    let first_table = doc
        .select(&Selector::parse("table").unwrap())
        .next()
        .unwrap();
    let rows = first_table
        .select(&Selector::parse("td:first-child a[href^='bench/']").unwrap())
        .count();
    assert_eq!(rows, inputs.budgets.len());
    assert!(index.contains("verdict REGRESSION"), "{index}");
    let bench = std::fs::read_to_string(dir.join("bench/encrypt_record_64k.html")).unwrap();
    for plot in ["history-instructions", "runs", "strip"] {
        assert!(bench.contains(&format!("data-plot=\"{plot}\"")), "{plot}");
    }
    assert!(bench.contains("../flame/encrypt_record_64k-abc-vs-def-diff.svg"));
    assert!(
        bench.contains("https://github.com/zp/zp/commit/"),
        "commit links"
    );
    // The change points of the simulated history, both directions.
    let h = &inputs.history.as_ref().unwrap().1;
    let at: Vec<(usize, bool)> = h.changes.iter().map(|c| (c.at, c.improvement())).collect();
    assert_eq!(at, [(20, false), (35, true)]);

    // Written again: the old site is replaced, not merged into.
    std::fs::write(dir.join("stale.html"), "x").unwrap();
    write(&inputs, &dir).unwrap();
    assert!(!dir.join("stale.html").exists());
}

#[test]
fn an_empty_store_still_makes_a_site_that_says_what_to_run() {
    let (_dir, ctx) = crate::fixtures::temp_ctx();
    let inputs = Inputs::gather(&ctx).unwrap();
    assert!(inputs.history.is_none() && inputs.last.is_none());
    let out = tempfile::tempdir().unwrap();
    let w = write(&inputs, &out.path().join("site")).unwrap();
    assert_eq!(w.plots, 0);
    let index = std::fs::read_to_string(out.path().join("site/index.html")).unwrap();
    assert!(index.contains("cargo xtask history"), "{index}");
    assert!(index.contains("cargo xtask bench"), "{index}");
}

fn walk(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if p.is_dir() {
            out.extend(walk(&p));
        } else {
            out.push(p);
        }
    }
    out
}
