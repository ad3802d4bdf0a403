//! `cargo xtask compare OLD NEW`: the CI gate between two stored runs.
//! Exit 0 when nothing fails, 1 on a regression (the category's failure
//! tier, or a significant slowdown past `--threshold`), 3 when the two
//! cannot be compared (missing, corrupt, or nothing in common), 7 when
//! nothing fails but time cannot decide some benchmark (its interval is
//! neither past its warning tier nor within it: not evidence of no change).

use crate::model::verdicts::Comparison;
use crate::{CannotCompare, Ctx, Regressed, cli::flags, render::report};
use anyhow::{Result, bail};

impl flags::Compare {
    pub fn run(&self, ctx: &Ctx) -> Result<()> {
        if let Some(t) = self.threshold
            && !(t.is_finite() && t > 1.0)
        {
            bail!(crate::Usage(format!(
                "--threshold is a ratio above 1 (e.g. 1.25), not {t}"
            )));
        }
        let (old_label, old) = ctx.store.resolve(&self.old)?;
        let (new_label, new) = ctx.store.resolve(&self.new)?;
        let c = Comparison::build(
            &ctx.budgets,
            (&new_label, &new),
            Some((&old_label, &old)),
            self.threshold,
        );
        if c.rows.iter().all(|r| r.decision.is_none()) {
            bail!(CannotCompare(format!(
                "{old_label} and {new_label} have no benchmark in common"
            )));
        }
        print!("{}", report::render(&c, self.format));
        for caution in &c.cautions {
            eprintln!("CAUTION: {caution}");
        }
        let failing = c.rows.iter().filter(|r| r.fails).count();
        if failing > 0 {
            bail!(Regressed(failing));
        }
        let undecided = c.inconclusive();
        if !undecided.is_empty() {
            bail!(crate::CannotDecide(format!(
                "nothing regressed, but time cannot decide {} yet: {}",
                if undecided.len() == 1 {
                    "one benchmark"
                } else {
                    "some benchmarks"
                },
                undecided.join(", ")
            )));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fixtures::{suite, temp_ctx};

    fn compare(ctx: &Ctx, threshold: Option<f64>) -> Result<()> {
        flags::Compare {
            old: "old".into(),
            new: "new".into(),
            threshold,
            format: flags::Format::Json,
        }
        .run(ctx)
    }

    #[test]
    fn the_gate_passes_fails_and_refuses_with_distinct_errors() {
        let (_dir, ctx) = temp_ctx();
        ctx.store
            .save_baseline("old", &suite("r1", "1111111111", 41_509.0, 0.0))
            .unwrap();
        ctx.store
            .save_baseline("new", &suite("r2", "2222222222", 41_509.0, 0.0))
            .unwrap();
        compare(&ctx, Some(1.25)).unwrap();
        let err = compare(&ctx, Some(0.5)).unwrap_err();
        assert!(
            err.is::<crate::Usage>() && err.to_string().contains("ratio above 1"),
            "{err}"
        );

        ctx.store
            .save_baseline("new", &suite("r2", "2222222222", 41_509.0 * 1.3, 0.0))
            .unwrap();
        let err = compare(&ctx, None).unwrap_err();
        assert!(
            err.is::<Regressed>() && err.to_string() == "1 benchmark regressed",
            "{err}"
        );

        // +8 % against a 10 % tier, rounds scattered ±3 %: slower for sure,
        // but perhaps past the tier and perhaps not: cannot decide (exit 7).
        ctx.store
            .save_baseline("new", &suite("r2", "2222222222", 41_509.0 * 1.08, 0.0))
            .unwrap();
        let err = compare(&ctx, None).unwrap_err();
        assert!(
            err.is::<crate::CannotDecide>()
                && err
                    .to_string()
                    .contains("cannot decide one benchmark yet: encrypt_record_64k"),
            "{err}"
        );
        assert_eq!(crate::exit_code_of(&err), 7);

        let mut other = suite("r3", "3333333333", 1.0, 0.0);
        other.benchmarks = std::iter::once((
            "not_in_budgets".to_string(),
            other.benchmarks["x25519_dh"].clone(),
        ))
        .collect();
        ctx.store.save_baseline("new", &other).unwrap();
        let err = compare(&ctx, None).unwrap_err();
        assert!(
            err.is::<CannotCompare>() && err.to_string().contains("no benchmark in common"),
            "{err}"
        );

        let err = flags::Compare {
            old: "old".into(),
            new: "missing".into(),
            threshold: None,
            format: flags::Format::Text,
        }
        .run(&ctx)
        .unwrap_err();
        assert!(
            err.is::<crate::storage::store::NotFound>()
                && err.to_string().contains("baselines: new, old"),
            "{err}"
        );
    }
}
