//! `cargo xtask export RUN`: a stored run in Bencher Metric Format, the JSON
//! that continuous-benchmarking services such as bencher.dev ingest
//! (`bencher run --adapter json --file …`). Benchmarks are named
//! `zp::<category>::<name>`; time is the built-in `latency` measure in
//! nanoseconds (value: the median of round medians, bounds: the lowest and
//! highest round median); sizes and allocations are custom measures.

use crate::render::bmf::{Bmf, Measures};
use crate::storage::store::Run;
use crate::{Ctx, cli::flags};
use anyhow::{Context, Result};
use serde_json::Value;

impl flags::Export {
    pub fn run(&self, ctx: &Ctx) -> Result<()> {
        let (_, run) = ctx.store.resolve(&self.run)?;
        let text = serde_json::to_string_pretty(&bmf(&run))? + "\n";
        match &self.output {
            Some(path) => {
                std::fs::write(path, text)
                    .with_context(|| format!("cannot write {}", path.display()))?;
                eprintln!(
                    "wrote {} benchmarks of run {} to {}",
                    run.benchmarks.len(),
                    run.id,
                    path.display()
                );
            }
            None => print!("{text}"),
        }
        Ok(())
    }
}

pub fn bmf(run: &Run) -> Value {
    let mut out = Bmf::default();
    for (name, m) in &run.benchmarks {
        out.bench(
            m.category,
            name,
            Measures {
                latency: m.time.as_ref().map(|t| (t.median(), &t.round_medians[..])),
                bytes: m.bytes.map(|b| b as f64),
                allocations: m.allocs.as_ref().map(|a| a.per_iter),
                ..Measures::default()
            },
        );
    }
    out.into_value()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fixtures::suite;

    #[test]
    fn bencher_metric_format() {
        let v = bmf(&suite("r", "c", 41_509.0, 2.0));
        let record = &v["zp::datapath::encrypt_record_64k"];
        assert_eq!(record["latency"]["value"], 41_509.0);
        assert!(record["latency"]["lower_value"].as_f64().unwrap() < 41_509.0);
        assert!(record["latency"]["upper_value"].as_f64().unwrap() > 41_509.0);
        assert_eq!(record["allocations"]["value"], 2.0);
        assert_eq!(
            v["zp::memory::connection_state_size"]["bytes"]["value"],
            544.0
        );
        assert_eq!(v.as_object().unwrap().len(), 4);
    }
}
