//! `cargo xtask runs`: what is stored, so a user can name it.

use crate::{Ctx, flags};
use anyhow::Result;

impl flags::Runs {
    pub fn run(&self, ctx: &Ctx) -> Result<()> {
        let baselines = ctx.store.baseline_names();
        let runs = ctx.store.run_ids();
        println!(
            "baselines ({}): {}",
            baselines.len(),
            if baselines.is_empty() {
                "none".into()
            } else {
                baselines.join(", ")
            }
        );
        println!("runs ({}), oldest first:", runs.len());
        for id in runs {
            println!("  {id}");
        }
        Ok(())
    }
}
