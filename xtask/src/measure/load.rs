//! What Linux says about how busy the machine is: CPU pressure
//! (`/proc/pressure/cpu`, PSI, Linux 4.20 and later) and the load average.

use std::time::Instant;

/// The "some" line of `/proc/pressure/cpu`: the share of time at least
/// one runnable task waited for a CPU, averaged over 10, 60 and 300 s, and
/// its running total in microseconds.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Pressure {
    pub avg10: f64,
    pub avg60: f64,
    pub avg300: f64,
    pub total_us: u64,
}

impl Pressure {
    pub fn read() -> Option<Pressure> {
        Pressure::parse(&std::fs::read_to_string("/proc/pressure/cpu").ok()?)
    }

    pub fn parse(text: &str) -> Option<Pressure> {
        let line = text.lines().find(|l| l.starts_with("some "))?;
        let field = |name: &str| {
            line.split_whitespace()
                .find_map(|w| w.strip_prefix(name)?.strip_prefix('='))
        };
        Some(Pressure {
            avg10: field("avg10")?.parse::<f64>().ok()? / 100.0,
            avg60: field("avg60")?.parse::<f64>().ok()? / 100.0,
            avg300: field("avg300")?.parse::<f64>().ok()? / 100.0,
            total_us: field("total")?.parse().ok()?,
        })
    }
}

/// CPU pressure over a span of time: started with [`Span::start`], read
/// with [`Span::share`].
pub struct Span {
    at: Instant,
    total_us: Option<u64>,
}

impl Span {
    pub fn start() -> Span {
        Span {
            at: Instant::now(),
            total_us: Pressure::read().map(|p| p.total_us),
        }
    }

    /// The share of the span during which some task waited for a CPU.
    pub fn share(&self) -> Option<f64> {
        let before = self.total_us?;
        let after = Pressure::read()?.total_us;
        let wall_us = self.at.elapsed().as_secs_f64() * 1e6;
        (wall_us > 0.0).then(|| (after.saturating_sub(before) as f64 / wall_us).min(1.0))
    }
}

/// `/proc/loadavg`'s 1-minute load and the number of CPUs.
pub fn load_average() -> Option<(f64, usize)> {
    let text = std::fs::read_to_string("/proc/loadavg").ok()?;
    let one: f64 = text.split_whitespace().next()?.parse().ok()?;
    let cpus = std::thread::available_parallelism().map_or(1, |n| n.get());
    Some((one, cpus))
}

/// One line on the machine's load now, for `doctor` and reports.
pub fn describe_now() -> String {
    let mut parts = Vec::new();
    match Pressure::read() {
        Some(p) => parts.push(format!(
            "CPU pressure {:.0}% over the last 10 s ({:.0}% over 60 s, {:.0}% over 300 s)",
            p.avg10 * 100.0,
            p.avg60 * 100.0,
            p.avg300 * 100.0
        )),
        None => {
            parts.push("CPU pressure not exposed (/proc/pressure/cpu: Linux 4.20+ with PSI)".into())
        }
    }
    if let Some((one, cpus)) = load_average() {
        parts.push(format!("load average {one:.2} on {cpus} CPUs"));
    }
    parts.join("; ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pressure_lines_parse_and_bad_ones_are_none() {
        let text = "some avg10=4.87 avg60=5.48 avg300=2.95 total=16966411\nfull avg10=0.00 avg60=0.00 avg300=0.00 total=0\n";
        let p = Pressure::parse(text).unwrap();
        assert_eq!(p.total_us, 16966411);
        assert!((p.avg10 - 0.0487).abs() < 1e-12 && (p.avg300 - 0.0295).abs() < 1e-12);
        assert_eq!(Pressure::parse("full avg10=0.00"), None);
        assert_eq!(
            Pressure::parse("some avg10=x avg60=1 avg300=1 total=1"),
            None
        );
    }
}
