//! How the workbench writes numbers, durations and commits for people:
//! `52.7µs`, `+4.1%`, `1234`, a commit cut to ten hex digits.

use crate::budgets::{Category, Target};

/// A commit ID cut to ten hex digits.
pub fn short(commit: &str) -> &str {
    &commit[..commit.len().min(10)]
}

/// `52.7µs`, `483ns`, `1.23ms`: three significant figures, the seed's style.
pub fn fmt_ns(ns: f64) -> String {
    let (v, unit) = if ns < 1e3 {
        (ns, "ns")
    } else if ns < 1e6 {
        (ns / 1e3, "µs")
    } else if ns < 1e9 {
        (ns / 1e6, "ms")
    } else {
        (ns / 1e9, "s")
    };
    let digits = if v >= 100.0 {
        0
    } else if v >= 10.0 {
        1
    } else {
        2
    };
    format!("{v:.digits$}{unit}")
}

pub fn fmt_value(v: f64, category: Category) -> String {
    if category == Category::Memory {
        format!("{v:.0}B")
    } else {
        fmt_ns(v)
    }
}

pub fn fmt_target(t: Target) -> String {
    match t {
        Target::Nanos(ns) => format!("<{}", fmt_ns(ns)),
        Target::Bytes(b) => format!("<{b}B"),
    }
}

pub fn fmt_change(change: f64) -> String {
    if change.is_infinite() {
        "+∞%".to_string()
    } else {
        format!("{:+.1}%", change * 100.0)
    }
}

pub fn fmt_count(v: f64) -> String {
    if (v - v.round()).abs() < 0.05 {
        format!("{v:.0}")
    } else {
        format!("{v:.1}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formatting_follows_the_requirements_style() {
        assert_eq!(fmt_ns(483.87), "484ns");
        assert_eq!(fmt_ns(16.285), "16.3ns");
        assert_eq!(fmt_ns(52_740.0), "52.7µs");
        assert_eq!(fmt_ns(2_093.8), "2.09µs");
        assert_eq!(fmt_ns(1_234_000.0), "1.23ms");
        assert_eq!(fmt_change(0.283), "+28.3%");
        assert_eq!(fmt_change(-0.05), "-5.0%");
        assert_eq!(fmt_target(Target::Nanos(50_000.0)), "<50.0µs");
    }
}
