//! Sparklines for the terminal: a benchmark's history in one column of
//! block characters (`▁▂▃▄▅▆▇█`), oldest on the left.
//!
//! Scaled so that noise does not look like a trend: the vertical range is
//! at least `min_span` of the median (a series that moves 0.3 % draws
//! flat), and a point that is missing draws as a space.

const BLOCKS: [char; 8] = ['▁', '▂', '▃', '▄', '▅', '▆', '▇', '█'];

/// The sparkline of `values` (oldest first), at most `width` characters
/// (the newest kept), drawn over a range of at least `min_span` times the
/// median (0.05: a 5 % change spans the full height).
pub fn render(values: &[Option<f64>], width: usize, min_span: f64) -> String {
    let values = &values[values.len().saturating_sub(width)..];
    let present: Vec<f64> = values
        .iter()
        .flatten()
        .copied()
        .filter(|v| v.is_finite())
        .collect();
    if present.is_empty() {
        return String::new();
    }
    let lo = present.iter().copied().fold(f64::INFINITY, f64::min);
    let hi = present.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    let mid = crate::stats::median(&present);
    let span = (hi - lo).max(mid.abs() * min_span);
    // Centre a range wider than the data around it.
    let base = lo - (span - (hi - lo)) / 2.0;
    values
        .iter()
        .map(|v| match v {
            Some(v) if v.is_finite() => {
                let level = if span > 0.0 { (v - base) / span } else { 0.5 };
                // Halfway rounds down: a flat series draws at ▄.
                let k = (level * (BLOCKS.len() - 1) as f64 - 1e-9).round();
                BLOCKS[k.clamp(0.0, (BLOCKS.len() - 1) as f64) as usize]
            }
            _ => ' ',
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn steps_reach_the_extremes_and_noise_stays_flat() {
        let step: Vec<Option<f64>> = [100.0, 100.0, 120.0, 120.0].into_iter().map(Some).collect();
        assert_eq!(render(&step, 16, 0.05), "▁▁██");
        // 0.3 % of wobble in a 5 % frame: the middle rows.
        let flat: Vec<Option<f64>> = [1000.0, 1003.0, 998.0, 1001.0]
            .into_iter()
            .map(Some)
            .collect();
        let s = render(&flat, 16, 0.05);
        assert!(s.chars().all(|c| "▃▄▅".contains(c)), "{s}");
        assert_eq!(render(&[Some(5.0), None, Some(5.0)], 16, 0.05), "▄ ▄");
        assert_eq!(render(&[], 16, 0.05), "");
        // The newest `width` points are kept.
        let long: Vec<Option<f64>> = (0..40).map(|i| Some(f64::from(i))).collect();
        let s = render(&long, 10, 0.05);
        assert_eq!(s.chars().count(), 10);
        assert!(s.starts_with('▁') && s.ends_with('█'), "{s}");
    }
}
