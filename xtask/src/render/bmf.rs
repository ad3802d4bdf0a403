//! Bencher Metric Format (BMF), the JSON bencher.dev and similar trackers
//! read: one object per benchmark, named `zp::CATEGORY::NAME`, holding
//! measures (`latency` in ns with its range, `instructions`, `bytes`,
//! `allocations`). `export` writes a stored run in it, the gate its head.

use crate::budgets::Category;
use serde_json::{Map, Value, json};

/// One benchmark's measures; each one present is written.
#[derive(Debug, Default)]
pub struct Measures<'a> {
    pub instructions: Option<f64>,
    /// The value and the round values its range is taken from.
    pub latency: Option<(f64, &'a [f64])>,
    pub bytes: Option<f64>,
    pub allocations: Option<f64>,
}

/// A BMF document being written.
#[derive(Debug, Default)]
pub struct Bmf(Map<String, Value>);

impl Bmf {
    /// Adds `name`'s measures.
    pub fn bench(&mut self, category: Category, name: &str, m: Measures) {
        let mut measures = Map::new();
        if let Some(v) = m.instructions {
            measures.insert("instructions".into(), json!({ "value": v }));
        }
        if let Some((v, rounds)) = m.latency {
            let lo = rounds.iter().copied().fold(f64::INFINITY, f64::min);
            let hi = rounds.iter().copied().fold(f64::NEG_INFINITY, f64::max);
            measures.insert(
                "latency".into(),
                json!({ "value": v, "lower_value": lo, "upper_value": hi }),
            );
        }
        if let Some(v) = m.bytes {
            measures.insert("bytes".into(), json!({ "value": v }));
        }
        if let Some(v) = m.allocations {
            measures.insert("allocations".into(), json!({ "value": v }));
        }
        self.0
            .insert(format!("zp::{category}::{name}"), Value::Object(measures));
    }

    pub fn into_value(self) -> Value {
        Value::Object(self.0)
    }
}
