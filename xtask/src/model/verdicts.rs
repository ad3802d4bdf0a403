//! From two runs to verdicts: per benchmark the decision against the
//! baseline, the budget check against the absolute target, whether it fails
//! the CI gate, and recommendations drawn from the evidence the two runs
//! carry (build profile, compiler, CPU features, crate versions,
//! allocations, commits). Rendering is `report.rs`'s job.

use crate::budgets::{Budgets, Category, Target};
use crate::model::decide::{self, Decision, Verdict};
use crate::storage::store::{Measured, Run};
use crate::units::{fmt_change, fmt_count, fmt_target, fmt_value, short};
use serde::Serialize;

#[derive(Debug, Clone, Serialize)]
pub struct Comparison {
    pub new: Side,
    pub old: Option<Side>,
    pub rows: Vec<Row>,
    /// In the baseline but not in the new run.
    pub removed: Vec<String>,
    /// Differences that make the comparison less trustworthy.
    pub cautions: Vec<String>,
    pub threshold: Option<f64>,
}

#[derive(Debug, Clone, Serialize)]
pub struct Side {
    /// How the user named it ("baseline `main`", "run 20261124-…").
    pub label: String,
    pub id: String,
    pub commit: Option<String>,
    pub dirty: bool,
}

#[derive(Debug, Clone, Serialize)]
pub struct Row {
    pub name: String,
    pub category: Category,
    pub new: Metrics,
    pub old: Option<Metrics>,
    /// `None` when there is no baseline or the baseline lacks this benchmark.
    pub decision: Option<Decision>,
    pub budget: BudgetCheck,
    /// Whether this benchmark fails `compare` (the CI gate).
    pub fails: bool,
    pub hotspots: Vec<Hotspot>,
    /// Why the hotspots are absolute shares rather than a diff, or may
    /// mislead.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub hotspot_notes: Vec<String>,
    /// Which instrument the hotspots came from, when they are a diff.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hotspot_instrument: Option<crate::stacks::Instrument>,
    pub recommendations: Vec<String>,
    /// Its headline in the stored runs before this one and in this one,
    /// oldest first (`bench` fills it in; a sparkline in the summary).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub trend: Vec<Option<f64>>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Metrics {
    /// Time benchmarks: nanoseconds per iteration.
    pub mean: Option<f64>,
    pub median: Option<f64>,
    pub p99: Option<f64>,
    pub rounds: usize,
    pub allocs: Option<f64>,
    /// Memory benchmarks.
    pub bytes: Option<u64>,
}

impl Metrics {
    fn of(m: &Measured) -> Metrics {
        let t = m.time.as_ref();
        Metrics {
            mean: t.map(|t| t.summary.mean),
            median: t.map(|t| t.median()),
            p99: t.map(|t| t.summary.p99),
            rounds: t.map_or(0, |t| t.round_medians.len()),
            allocs: m.allocs.as_ref().map(|a| a.per_iter),
            bytes: m.bytes,
        }
    }

    /// The number budgets and summaries show: median ns or bytes.
    pub fn headline(&self) -> Option<f64> {
        self.median.or(self.bytes.map(|b| b as f64))
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct BudgetCheck {
    #[serde(serialize_with = "target_json")]
    pub target: Target,
    /// Headline over target: above 1 is over budget.
    pub fraction: Option<f64>,
    pub over: bool,
}

fn target_json<S: serde::Serializer>(t: &Target, s: S) -> Result<S::Ok, S::Error> {
    match t {
        Target::Nanos(ns) => s.serialize_str(&format!("{ns} ns")),
        Target::Bytes(b) => s.serialize_str(&format!("{b} B")),
    }
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Hotspot {
    pub function: String,
    /// Share of the benchmark's samples in which this function was the leaf
    /// (for a diff: its time's share of the run's).
    pub percent: f64,
    /// Against the baseline, when its commit could be profiled: what
    /// changed rather than what is always hot.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub growth: Option<Growth>,
}

/// How a function's time moved from the baseline.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Growth {
    pub before_pct: f64,
    /// Its time after minus before, in percent of the baseline's time.
    pub growth_pct: f64,
}

/// Hotspots from a diff by zp function (`measure::hotspots`).
pub fn hotspot_changes(changes: &[crate::stacks::Change]) -> Vec<Hotspot> {
    changes
        .iter()
        .map(|c| Hotspot {
            function: c.function.clone(),
            percent: c.after_pct,
            growth: Some(Growth {
                before_pct: c.before_pct,
                growth_pct: c.growth_pct,
            }),
        })
        .collect()
}

impl Comparison {
    pub fn build(
        budgets: &Budgets,
        new: (&str, &Run),
        old: Option<(&str, &Run)>,
        threshold: Option<f64>,
    ) -> Comparison {
        let (new_label, new_run) = new;
        let mut rows = Vec::new();
        for b in &budgets.benchmarks {
            let Some(m) = new_run.benchmarks.get(&b.name) else {
                continue;
            };
            let old_m = old.and_then(|(_, r)| r.benchmarks.get(&b.name));
            let t = budgets.thresholds(b.category);
            let decision = old_m.and_then(|o| match (&o.time, &m.time, o.bytes, m.bytes) {
                (Some(ot), Some(nt), _, _) => {
                    Some(decide::decide_time(&ot.round_medians, &nt.round_medians, t))
                }
                (_, _, Some(ob), Some(nb)) => Some(decide::decide_exact(ob as f64, nb as f64, t)),
                _ => None,
            });
            let new_metrics = Metrics::of(m);
            let fraction = new_metrics.headline().map(|v| match b.target {
                Target::Nanos(ns) => v / ns,
                Target::Bytes(by) => v / by as f64,
            });
            let fails = decision.is_some_and(|d| {
                d.verdict == Verdict::Regression
                    || (d.surely_slower() && threshold.is_some_and(|th| d.ratio > th))
            });
            rows.push(Row {
                name: b.name.clone(),
                category: b.category,
                old: old_m.map(Metrics::of),
                new: new_metrics,
                decision,
                budget: BudgetCheck {
                    target: b.target,
                    fraction,
                    over: fraction.is_some_and(|f| f > 1.0),
                },
                fails,
                hotspots: Vec::new(),
                hotspot_notes: Vec::new(),
                hotspot_instrument: None,
                recommendations: Vec::new(),
                trend: Vec::new(),
            });
        }
        let removed = old
            .map(|(_, o)| {
                o.benchmarks
                    .keys()
                    .filter(|k| !new_run.benchmarks.contains_key(*k))
                    .cloned()
                    .collect()
            })
            .unwrap_or_default();
        let cautions = old.map(|(_, o)| cautions(o, new_run)).unwrap_or_default();
        let mut c = Comparison {
            new: side(new_label, new_run),
            old: old.map(|(l, r)| side(l, r)),
            rows,
            removed,
            cautions,
            threshold,
        };
        for i in 0..c.rows.len() {
            let recs = recommend(&c.rows[i], new_run, old.map(|(_, r)| r));
            c.rows[i].recommendations = recs;
        }
        c
    }

    /// Benchmarks the bench command should take more rounds of.
    pub fn inconclusive(&self) -> Vec<&str> {
        self.rows
            .iter()
            .filter(|r| {
                r.decision
                    .is_some_and(|d| d.verdict == Verdict::Inconclusive)
            })
            .map(|r| r.name.as_str())
            .collect()
    }

    /// Re-derives recommendations once hotspots are known.
    pub fn refresh_recommendations(&mut self, new: &Run, old: Option<&Run>) {
        for i in 0..self.rows.len() {
            let recs = recommend(&self.rows[i], new, old);
            self.rows[i].recommendations = recs;
        }
    }
}

fn side(label: &str, run: &Run) -> Side {
    Side {
        label: label.to_string(),
        id: run.id.clone(),
        commit: run.commit.clone(),
        dirty: run.dirty,
    }
}

/// Loud warnings when the two runs were not measured alike.
fn cautions(old: &Run, new: &Run) -> Vec<String> {
    let mut out = Vec::new();
    if old.machine.fingerprint != new.machine.fingerprint {
        out.push(format!(
            "the runs come from different machines ({} vs {}): differences may be the hardware's",
            old.machine.describe(),
            new.machine.describe()
        ));
    }
    if old.build.toolchain != new.build.toolchain {
        out.push(format!(
            "the toolchains differ ({} vs {}): differences may be the compiler's",
            old.build.toolchain, new.build.toolchain
        ));
    }
    if old.build.features != new.build.features {
        let show = |f: &[String]| {
            if f.is_empty() {
                "default features".to_string()
            } else {
                format!("features {}", f.join(","))
            }
        };
        out.push(format!(
            "the runs were built differently ({} vs {}): this compares builds, not only code",
            show(&old.build.features),
            show(&new.build.features)
        ));
    }
    if old.settings.quick != new.settings.quick {
        out.push(
            "one run is --quick and the other is not: their rounds differ in length".to_string(),
        );
    }
    out
}

/// Recommendations for one row, strongest evidence first, following the
/// requirements' escalation list.
fn recommend(row: &Row, new: &Run, old: Option<&Run>) -> Vec<String> {
    let mut out = Vec::new();
    let verdict = row.decision.map(|d| d.verdict);
    let slower = matches!(verdict, Some(Verdict::Warning | Verdict::Regression));
    if slower && let Some(old) = old {
        let (ob, nb) = (&old.build, &new.build);
        if ob.opt_level != nb.opt_level {
            out.push(format!(
                "The bench profile's opt-level changed from {} to {}: restore it under [profile.release] or [profile.bench] in Cargo.toml (or unset CARGO_PROFILE_*_OPT_LEVEL).",
                ob.opt_level, nb.opt_level
            ));
        }
        if nb.debug_assertions && !ob.debug_assertions {
            out.push("The bench profile gained debug assertions: remove `debug-assertions = true` from [profile.release]/[profile.bench] (or unset CARGO_PROFILE_*_DEBUG_ASSERTIONS).".to_string());
        }
        if ob.lto != nb.lto || ob.codegen_units != nb.codegen_units {
            out.push(format!(
                "Link-time optimisation or codegen units changed (lto {} → {}, codegen-units {:?} → {:?}).",
                ob.lto, nb.lto, ob.codegen_units, nb.codegen_units
            ));
        }
        if ob.rustflags != nb.rustflags {
            let soft = nb.rustflags.contains("force_soft")
                || nb.rustflags.contains("curve25519_dalek_backend");
            out.push(format!(
                "RUSTFLAGS changed from `{}` to `{}`{}.",
                ob.rustflags,
                nb.rustflags,
                if soft { ": that selects a crypto crate's portable backend instead of its CPU-specific one" } else { "" }
            ));
        }
        let lost: Vec<&str> = old
            .machine
            .features
            .iter()
            .filter(|f| !new.machine.features.contains(f))
            .map(String::as_str)
            .collect();
        if !lost.is_empty() {
            out.push(format!(
                "This machine lacks CPU features the baseline's had ({}): the crypto crates detect them at run time and fall back to portable code.",
                lost.join(", ")
            ));
        }
        let changed: Vec<String> = nb
            .crates
            .iter()
            .filter_map(|(k, v)| match ob.crates.get(k) {
                Some(o) if o != v => Some(format!("{k} {o} → {v}")),
                None => Some(format!("{k} (new) {v}")),
                _ => None,
            })
            .collect();
        if !changed.is_empty() {
            out.push(format!(
                "Crypto crates changed: {}; compare their changelogs and enabled features.",
                changed.join(", ")
            ));
        }
        if ob.toolchain != nb.toolchain {
            out.push(format!(
                "The compiler changed ({} → {}): re-measure the baseline with the new toolchain to separate compiler from code.",
                ob.toolchain, nb.toolchain
            ));
        }
    }
    if let (Some(o), Some(n)) = (row.old.as_ref().and_then(|m| m.allocs), row.new.allocs)
        && n > o + 0.5
    {
        out.push(format!(
            "Allocations per iteration grew from {} to {}: find the new ones with `cargo xtask profile --mem {}`.",
            fmt_count(o),
            fmt_count(n),
            row.name
        ));
    }
    if slower {
        if let Some(h) = row.hotspots.first() {
            out.push(match h.growth {
                Some(g) => format!(
                    "Start with `{}` ({:+.1} % of the baseline's time).",
                    h.function, g.growth_pct
                ),
                None => format!(
                    "Start with `{}` ({:.0} % of the samples).",
                    h.function, h.percent
                ),
            });
        }
        match row.category {
            Category::Handshake => out.push(format!(
                "Profile the handshake: `cargo xtask flame {}`; a trade-off in the protocol may need the design authority.",
                row.name
            )),
            Category::Memory => out.push(format!(
                "Memory grew: check for leaks and retained buffers with `cargo xtask profile --mem {}` (valgrind's massif or miri for leaks).",
                row.name
            )),
            Category::Crypto => out.push(
                "For crypto, check first for debug symbols or assertions in the bench profile and for changed crate features."
                    .to_string(),
            ),
            Category::Datapath => {}
        }
        match (old.and_then(|o| o.commit.as_deref()), new.commit.as_deref()) {
            (Some(good), Some(bad)) if good != bad => out.push(format!(
                "Bisect to find the cause: `cargo xtask bisect {} --good {} --bad {}`{}.",
                row.name,
                short(good),
                short(bad),
                if new.dirty { " (commit the working-tree changes first: the new run measured them)" } else { "" }
            )),
            (Some(_), Some(_)) if new.dirty => out.push(
                "Same commit as the baseline, with uncommitted changes: the cause is in `git diff`.".to_string(),
            ),
            (Some(_), Some(_)) => out.push(
                "Same commit as the baseline: the code did not change, so the machine or the build did; re-run both on a quiet machine.".to_string(),
            ),
            _ => {}
        }
    }
    if verdict == Some(Verdict::Pass)
        && let (Some(d), Some(_)) = (row.decision, old)
        && d.interval.is_some()
        && d.surely_slower()
    {
        out.push(format!(
            "Slower by {} ({}), but within the {} warning tier: watch it.",
            fmt_change(d.change()),
            d.interval_text().unwrap_or_default(),
            row.category
        ));
    }
    if verdict == Some(Verdict::Inconclusive) {
        let d = row.decision.expect("inconclusive has a decision");
        out.push(format!(
            "Cannot decide yet: {} ({}) after {} rounds against {} is neither past the {} warning tier nor within it. Re-run on a quieter machine (the baseline's rounds limit the interval too), or compare exact instruction counts with `cargo xtask bisect {} --metric instructions`.",
            fmt_change(d.change()),
            d.interval_text().unwrap_or_default(),
            row.new.rounds,
            row.old.as_ref().map_or(0, |o| o.rounds),
            row.category,
            row.name
        ));
    }
    if row.budget.over {
        out.push(format!(
            "Over its absolute target ({} of {}): profile it with `cargo xtask flame {}`.",
            row.new
                .headline()
                .map_or("?".into(), |v| fmt_value(v, row.category)),
            fmt_target(row.budget.target),
            row.name
        ));
    }
    if out.is_empty() {
        out.push(match row.decision {
            Some(_) => "None: no change beyond noise, and within budget.".to_string(),
            None => "None: within budget; save a baseline (`--save-baseline main`) to compare future runs with.".to_string(),
        });
    }
    out
}

/// Self time by leaf function, largest first, leaves attributed to the zp function they ran in.
pub fn hotspots(profile: &crate::stacks::Profile, top: usize) -> Vec<Hotspot> {
    profile
        .hotspots()
        .into_iter()
        .take(top)
        .map(|s| Hotspot {
            function: s.function,
            percent: s.self_pct,
            growth: None,
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fixtures::{self, budgets, suite};

    fn row<'a>(c: &'a Comparison, name: &str) -> &'a Row {
        c.rows.iter().find(|r| r.name == name).unwrap()
    }

    #[test]
    fn unchanged_code_passes_everything() {
        let b = budgets();
        let (old, new) = (
            suite("a", "1111111111", 41_509.0, 0.0),
            suite("b", "2222222222", 41_509.0, 0.0),
        );
        let c = Comparison::build(
            &b,
            ("run b", &new),
            Some(("baseline `main`", &old)),
            Some(1.25),
        );
        assert_eq!(c.rows.len(), 4);
        assert!(
            c.rows
                .iter()
                .all(|r| r.decision.unwrap().verdict == Verdict::Pass && !r.fails)
        );
        assert!(c.cautions.is_empty() && c.removed.is_empty());
        assert!(
            row(&c, "x25519_dh").budget.over,
            "52.7 µs is over the 50 µs target"
        );
    }

    #[test]
    fn a_slower_record_layer_is_a_datapath_regression_with_evidence() {
        let b = budgets();
        let old = suite("a", "1111111111", 41_509.0, 0.0);
        let new = suite("b", "2222222222", 41_509.0 * 1.28, 2.0);
        let c = Comparison::build(&b, ("run b", &new), Some(("baseline `main`", &old)), None);
        let r = row(&c, "encrypt_record_64k");
        let d = r.decision.unwrap();
        assert_eq!(d.verdict, Verdict::Regression);
        assert!((d.ratio - 1.28).abs() < 1e-9 && d.surely_slower());
        assert!(r.fails);
        let recs = r.recommendations.join("\n");
        assert!(
            recs.contains("Allocations per iteration grew from 0 to 2"),
            "{recs}"
        );
        assert!(
            recs.contains(
                "cargo xtask bisect encrypt_record_64k --good 1111111111 --bad 2222222222"
            ),
            "{recs}"
        );
        // 15 % is past the datapath warning tier but not its failure tier.
        let new = suite("b", "2222222222", 41_509.0 * 1.15, 0.0);
        let c = Comparison::build(&b, ("run b", &new), Some(("baseline `main`", &old)), None);
        assert_eq!(
            row(&c, "encrypt_record_64k").decision.unwrap().verdict,
            Verdict::Warning
        );
        assert!(!row(&c, "encrypt_record_64k").fails);
        // ... unless the gate's ratio threshold is tighter.
        let c = Comparison::build(
            &b,
            ("run b", &new),
            Some(("baseline `main`", &old)),
            Some(1.10),
        );
        assert!(row(&c, "encrypt_record_64k").fails);
    }

    #[test]
    fn handshake_tiers_are_wider_than_crypto_tiers() {
        let b = budgets();
        let mut old = suite("a", "1111111111", 41_509.0, 0.0);
        let mut new = old.clone();
        for r in [&mut old, &mut new] {
            r.benchmarks
                .retain(|k, _| k == "stranger_handshake_pqc1" || k == "x25519_dh");
        }
        new.benchmarks.insert(
            "stranger_handshake_pqc1".into(),
            fixtures::time(Category::Handshake, 298_843.0 * 1.3, 41.0),
        );
        new.benchmarks.insert(
            "x25519_dh".into(),
            fixtures::time(Category::Crypto, 52_740.0 * 1.3, 0.0),
        );
        let c = Comparison::build(&b, ("new", &new), Some(("old", &old)), None);
        assert_eq!(
            row(&c, "stranger_handshake_pqc1").decision.unwrap().verdict,
            Verdict::Warning
        );
        assert_eq!(
            row(&c, "x25519_dh").decision.unwrap().verdict,
            Verdict::Regression
        );
    }

    #[test]
    fn build_and_machine_differences_become_cautions_and_recommendations() {
        let b = budgets();
        let old = suite("a", "1111111111", 41_509.0, 0.0);
        let mut new = suite("b", "1111111111", 41_509.0 * 1.5, 0.0);
        new.build.opt_level = "1".into();
        new.build.debug_assertions = true;
        new.build.rustflags = "--cfg chacha20_force_soft".into();
        new.build.toolchain = "rustc 1.96.0".into();
        new.build
            .crates
            .insert("chacha20poly1305".into(), "0.10.1".into());
        new.machine.features.retain(|f| f != "avx2");
        new.machine.fingerprint = "ffff".into();
        new.benchmarks.remove("connection_state_size");
        new.benchmarks.insert(
            "parse_frame".into(),
            fixtures::time(Category::Datapath, 16.0, 0.0),
        );
        let c = Comparison::build(&b, ("new", &new), Some(("old", &old)), None);
        assert_eq!(c.cautions.len(), 2, "{:?}", c.cautions);
        assert!(
            c.cautions[0].contains("different machines")
                && c.cautions[1].contains("toolchains differ")
        );
        assert_eq!(c.removed, ["connection_state_size"]);
        assert!(row(&c, "parse_frame").decision.is_none());
        let recs = row(&c, "encrypt_record_64k").recommendations.join("\n");
        for needle in [
            "opt-level changed from 3 to 1",
            "gained debug assertions",
            "portable backend",
            "lacks CPU features the baseline's had (avx2)",
            "chacha20poly1305 0.11.0 → 0.10.1",
            "The compiler changed",
            "Same commit as the baseline",
        ] {
            assert!(recs.contains(needle), "missing `{needle}` in:\n{recs}");
        }
    }

    #[test]
    fn a_build_with_other_features_is_compared_loudly_and_speed_ups_read_as_factors() {
        let b = budgets();
        let old = suite("a", "1111111111", 41_509.0, 0.0);
        let mut new = suite("b", "1111111111", 41_509.0 / 1.7, 0.0);
        new.build.features = vec!["aws-lc".into()];
        let c = Comparison::build(&b, ("aws-lc", &new), Some(("main", &old)), None);
        assert!(
            c.cautions
                .iter()
                .any(|x| x.contains("default features vs features aws-lc")),
            "{:?}",
            c.cautions
        );
        assert_eq!(
            row(&c, "encrypt_record_64k").decision.unwrap().verdict,
            Verdict::Improvement
        );
        let summary = crate::render::report::summary(&c, false);
        assert!(summary.contains("-41.2% (×1.7)"), "{summary}");
    }

    #[test]
    fn memory_growth_uses_the_memory_tiers() {
        let b = budgets();
        let old = suite("a", "1111111111", 41_509.0, 0.0);
        let mut new = old.clone();
        new.benchmarks.insert(
            "connection_state_size".into(),
            fixtures::bytes(544 * 16 / 10),
        );
        let c = Comparison::build(&b, ("new", &new), Some(("old", &old)), None);
        let r = row(&c, "connection_state_size");
        assert_eq!(r.decision.unwrap().verdict, Verdict::Regression);
        assert_eq!(r.decision.unwrap().interval, None);
        assert!(
            r.recommendations
                .iter()
                .any(|s| s.contains("profile --mem connection_state_size"))
        );
    }

    #[test]
    fn hotspots_are_self_time_by_leaf() {
        let folded: Vec<String> = ["m;a;b 6", "m;a;c 3", "m;b 1", "garbage"]
            .map(String::from)
            .to_vec();
        let h = hotspots(
            &crate::stacks::Profile::parse(folded.iter().map(String::as_str)),
            2,
        );
        let zp = hotspots(
            &crate::stacks::Profile::parse(["zp_probe_measured;zp::record::seal;mul 3"]),
            1,
        );
        assert_eq!(zp[0].function, "mul (in zp::record::seal)");
        assert_eq!(
            h,
            [
                Hotspot {
                    function: "b".into(),
                    percent: 70.0,
                    growth: None
                },
                Hotspot {
                    function: "c".into(),
                    percent: 30.0,
                    growth: None
                }
            ]
        );
    }
}
