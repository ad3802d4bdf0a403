//! `cargo xtask compare OLD NEW`: the CI gate between two stored runs.
//! Exit 0 when nothing fails, 1 on a regression (the category's failure
//! tier, or a significant slowdown past `--threshold`), 3 when the two
//! cannot be compared (missing, corrupt, or nothing in common).

use crate::verdicts::Comparison;
use crate::{Ctx, flags, report};
use anyhow::{Result, bail};

/// The two runs could not be compared (exit code 3).
#[derive(Debug)]
pub struct CannotCompare(pub String);

impl std::fmt::Display for CannotCompare {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for CannotCompare {}

/// A regression was found (exit code 1); the report is already printed.
#[derive(Debug)]
pub struct Regressed(pub usize);

impl std::fmt::Display for Regressed {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} benchmark{} regressed",
            self.0,
            if self.0 == 1 { "" } else { "s" }
        )
    }
}

impl std::error::Error for Regressed {}

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
        Ok(())
    }
}
