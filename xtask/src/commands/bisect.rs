//! `cargo xtask bisect BENCH`: which commit made BENCH slower. The bisect
//! itself is [`crate::workflows::bisection::bisect`]; this command passes it the
//! options and turns what it found into the exit code (5 nothing to
//! bisect, 7 cannot decide).

use crate::cli::flags;
use crate::model::search::Finding;
use crate::workflows::bisection::{self, NothingToBisect, Request};
use crate::{CannotDecide, Ctx};
use anyhow::{Result, bail};

impl flags::Bisect {
    /// The library's request for these options.
    pub fn request(&self) -> Request {
        Request {
            bench: self.bench.clone(),
            good: self.good.clone(),
            bad: self.bad.clone(),
            metric: self.metric,
            threshold: self.threshold,
            jobs: self.jobs,
            fresh: self.fresh,
        }
    }

    pub fn run(&self, ctx: &Ctx) -> Result<()> {
        let report = bisection::bisect(ctx, &self.request())?;
        match &report.answer.outcome.finding {
            Finding::Culprit { .. } | Finding::Ambiguous { .. } => Ok(()),
            f if f.undecided() => bail!(CannotDecide(report.headline())),
            _ => bail!(NothingToBisect(report.headline())),
        }
    }
}
