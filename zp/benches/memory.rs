//! The memory benchmarks: bytes, not time. Criterion's statistics have
//! nothing to estimate for a figure that does not vary, so this target
//! prints each size against its budget; it accepts (and ignores) the flags
//! `cargo bench` passes, and honours name filters.

mod suite;

use suite::{Category, Kind};

/// Criterion flags that take a value, which is not a name filter.
const VALUE_FLAGS: &[&str] = &[
    "--save-baseline",
    "--baseline",
    "--baseline-lenient",
    "--load-baseline",
    "--measurement-time",
    "--warm-up-time",
    "--sample-size",
    "--noise-threshold",
    "--significance-level",
    "--confidence-level",
    "--nresamples",
    "--output-format",
    "--color",
    "--profile-time",
    "--plotting-backend",
    "--format",
];

fn filters(args: impl Iterator<Item = String>) -> Vec<String> {
    let mut out = Vec::new();
    let mut skip_value = false;
    for a in args {
        if skip_value {
            skip_value = false;
        } else if VALUE_FLAGS.contains(&a.as_str()) {
            skip_value = true;
        } else if !a.starts_with('-') {
            out.push(a);
        }
    }
    out
}

fn main() {
    let filters = filters(std::env::args().skip(1));
    for bench in suite::all()
        .iter()
        .filter(|b| b.category == Category::Memory)
    {
        if !filters.is_empty() && !filters.iter().any(|f| bench.name.contains(f.as_str())) {
            continue;
        }
        if let Kind::Bytes(measure) = bench.kind {
            println!(
                "memory/{:<28} {:>6} B",
                bench.name,
                measure(zp::crypto::default_provider())
            );
            #[cfg(feature = "aws-lc")]
            {
                let bytes = measure(zp::crypto::rustcrypto());
                println!("memory_rustcrypto/{:<17} {:>6} B", bench.name, bytes);
            }
        }
    }
}
