//! `cargo xtask runs`: what is stored, so a user can name it, and how each
//! benchmark moved over the stored runs.

use crate::storage::store::Run;
use crate::units::{fmt_value, short};
use crate::{Ctx, cli::flags};
use anyhow::Result;
use std::fmt::Write;

impl flags::Runs {
    pub fn run(&self, ctx: &Ctx) -> Result<()> {
        print!("{}", render(ctx));
        Ok(())
    }
}

/// The listing: baselines, runs, and a sparkline per benchmark over the
/// newest runs measured like the newest one (same machine and features).
pub fn render(ctx: &Ctx) -> String {
    let mut out = String::new();
    let baselines = ctx.store.baseline_names();
    let runs = ctx.store.run_ids();
    let _ = writeln!(
        out,
        "baselines ({}): {}",
        baselines.len(),
        if baselines.is_empty() {
            "none".into()
        } else {
            baselines.join(", ")
        }
    );
    let _ = writeln!(out, "runs ({}), oldest first:", runs.len());
    for id in &runs {
        let _ = writeln!(out, "  {id}");
    }
    let recent = ctx.store.recent_runs(crate::storage::store::TREND_RUNS);
    let Some(newest) = recent.last() else {
        return out;
    };
    let same: Vec<&Run> = recent.iter().filter(|r| r.comparable(newest)).collect();
    let _ = writeln!(
        out,
        "\ntrend over the last {} runs on this machine{} (oldest → newest; median time or size):",
        same.len(),
        if newest.build.features.is_empty() {
            String::new()
        } else {
            format!(" with features {}", newest.build.features.join(","))
        }
    );
    let mut rows = Vec::new();
    for b in &ctx.budgets.benchmarks {
        let values: Vec<Option<f64>> = same.iter().map(|r| r.headline(&b.name)).collect();
        if values.iter().all(Option::is_none) {
            continue;
        }
        let span = if b.category == crate::budgets::Category::Memory {
            0.02
        } else {
            0.10
        };
        rows.push([
            b.name.clone(),
            crate::render::sparkline::render(&values, crate::storage::store::TREND_RUNS, span),
            values
                .iter()
                .rev()
                .flatten()
                .next()
                .map_or("—".into(), |v| fmt_value(*v, b.category)),
            newest
                .commit
                .as_deref()
                .map_or("—".into(), |c| short(c).to_string()),
        ]);
    }
    out.push_str(&crate::render::report::table(
        &["benchmark", "trend", "latest", "commit"],
        &rows,
        false,
    ));
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn runs_list_names_and_draws_each_benchmarks_trend() {
        let (_dir, ctx) = crate::fixtures::temp_ctx();
        assert!(render(&ctx).contains("runs (0)"));
        for (k, ns) in [50_000.0, 50_500.0, 60_000.0].into_iter().enumerate() {
            let mut r =
                crate::fixtures::suite(&format!("2026112{k}-000000-aaaa"), "aaaaaaaaaaaa", ns, 0.0);
            ctx.store.save_run(&mut r).unwrap();
        }
        ctx.store
            .save_baseline("main", &crate::fixtures::suite("b", "bbbb", 50_000.0, 0.0))
            .unwrap();
        let text = render(&ctx);
        assert!(text.contains("baselines (1): main"), "{text}");
        assert!(text.contains("trend over the last 3 runs"), "{text}");
        let line = text
            .lines()
            .find(|l| l.starts_with("encrypt_record_64k"))
            .unwrap();
        assert!(line.contains("▁▁█") && line.contains("60.0µs"), "{line}");
    }
}
