//! The memory benchmarks: bytes, not time. Criterion's statistics have
//! nothing to estimate for a figure that does not vary, so this target
//! prints each size against its budget; it accepts (and ignores) the flags
//! `cargo bench` passes, and honours name filters.

mod suite;

use suite::{Category, Kind};

fn main() {
    let filters: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| !a.starts_with('-'))
        .collect();
    for bench in suite::all()
        .iter()
        .filter(|b| b.category == Category::Memory)
    {
        if !filters.is_empty() && !filters.iter().any(|f| bench.name.contains(f.as_str())) {
            continue;
        }
        if let Kind::Bytes(measure) = bench.kind {
            println!("memory/{:<28} {:>6} B", bench.name, measure());
        }
    }
}
