//! The CPU's clock while it computes, for cycles per byte.
//!
//! A nominal frequency (what `/proc/cpuinfo` or cpufreq say) is not the
//! clock a benchmark ran at: turbo raises it, a hypervisor may report a
//! fixed figure, and many VMs expose no cpufreq at all. So the clock is
//! measured: a chain of dependent register-to-register additions takes
//! one cycle per addition on every x86-64 core of the last twenty years
//! (Agner Fog's instruction tables: `ADD r,r` latency 1), so additions per
//! second is the clock. (Adds of an immediate are not used: recent Intel
//! cores can fold chains of them at rename, several per cycle.) The loop is run in short bursts and the fastest burst
//! counts, since anything else the machine does only slows a burst. The
//! nominal figure is kept beside it, so a reader sees both.

use serde::{Deserialize, Serialize};
use std::time::Instant;

/// A measured clock, or why there is none.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Clock {
    /// Cycles per nanosecond (GHz), when measured.
    pub ghz: Option<f64>,
    /// How it was obtained, or why it could not be.
    pub how: String,
    /// What the OS reports (`/proc/cpuinfo`'s "cpu MHz", cpufreq), in GHz.
    pub nominal_ghz: Option<f64>,
}

impl Clock {
    /// Measures the clock now.
    pub fn measure() -> Clock {
        let nominal_ghz = nominal_ghz();
        match measured_ghz() {
            Some(ghz) => Clock {
                ghz: Some(ghz),
                how: "measured: a dependent-add loop, 1 cycle per addition, fastest of 40 bursts"
                    .into(),
                nominal_ghz,
            },
            None => Clock {
                ghz: None,
                how: format!(
                    "cannot be read: no dependent-add loop for {}, so no cycles per byte",
                    std::env::consts::ARCH
                ),
                nominal_ghz,
            },
        }
    }

    /// Two readings (before and after a run) as one: their mean, with a
    /// note when they differ by more than `tolerance` (a fraction), which
    /// means the clock moved during the run.
    pub fn combine(before: &Clock, after: &Clock, tolerance: f64) -> (Clock, Option<String>) {
        match (before.ghz, after.ghz) {
            (Some(a), Some(b)) => {
                let mean = (a + b) / 2.0;
                let note = ((a - b).abs() / mean > tolerance).then(|| {
                    format!(
                        "the clock moved during the run ({a:.2} GHz before, {b:.2} GHz after): \
                         cycles per byte use their mean and are uncertain by as much"
                    )
                });
                (
                    Clock {
                        ghz: Some(mean),
                        how: format!(
                            "{} (before and after the run: {a:.2}, {b:.2} GHz)",
                            before.how
                        ),
                        nominal_ghz: before.nominal_ghz,
                    },
                    note,
                )
            }
            _ => (before.clone(), None),
        }
    }

    /// Cycles per byte of `bytes` bytes processed in `ns` nanoseconds.
    pub fn cycles_per_byte(&self, ns: f64, bytes: f64) -> Option<f64> {
        Some(ns * self.ghz? / bytes)
    }

    /// One line for a report.
    pub fn describe(&self) -> String {
        let nominal = match self.nominal_ghz {
            Some(n) => format!("; the OS reports {n:.2} GHz"),
            None => "; the OS reports no frequency".into(),
        };
        match self.ghz {
            Some(g) => format!("{g:.2} GHz, {}{nominal}", self.how),
            None => format!("{}{nominal}", self.how),
        }
    }
}

/// `/sys/…/cpufreq/scaling_cur_freq` (kHz) or `/proc/cpuinfo`'s first
/// "cpu MHz", in GHz.
fn nominal_ghz() -> Option<f64> {
    let cpufreq = std::fs::read_to_string("/sys/devices/system/cpu/cpu0/cpufreq/scaling_cur_freq")
        .ok()
        .and_then(|s| s.trim().parse::<f64>().ok())
        .map(|khz| khz / 1e6);
    cpufreq.or_else(|| parse_cpuinfo_mhz(&std::fs::read_to_string("/proc/cpuinfo").ok()?))
}

/// The first "cpu MHz" line of `/proc/cpuinfo`, in GHz.
pub fn parse_cpuinfo_mhz(cpuinfo: &str) -> Option<f64> {
    cpuinfo.lines().find_map(|l| {
        let (key, value) = l.split_once(':')?;
        (key.trim() == "cpu MHz")
            .then(|| value.trim().parse::<f64>().ok().map(|mhz| mhz / 1000.0))
            .flatten()
    })
}

/// Additions in one burst: about 2 ms at 3 GHz, well inside one
/// scheduler slice, long beside the timer's resolution.
const ADDS_PER_BURST: u64 = 6_000_000;

#[cfg(target_arch = "x86_64")]
fn measured_ghz() -> Option<f64> {
    // Warm up (leave any low-power state), then keep the fastest burst.
    adds(ADDS_PER_BURST);
    let best = (0..40)
        .map(|_| {
            let start = Instant::now();
            adds(ADDS_PER_BURST);
            start.elapsed().as_secs_f64()
        })
        .fold(f64::INFINITY, f64::min);
    (best > 0.0 && best.is_finite()).then(|| ADDS_PER_BURST as f64 / best / 1e9)
}

#[cfg(not(target_arch = "x86_64"))]
fn measured_ghz() -> Option<f64> {
    None
}

/// `n` (a multiple of 8, at least 8) dependent register-to-register
/// additions, eight per loop iteration; the loop's own decrement and
/// branch run beside the chain, not in it.
#[cfg(target_arch = "x86_64")]
fn adds(n: u64) {
    assert!(n >= 8, "a burst of at least one loop iteration");
    let mut x: u64 = 0;
    let mut left = n / 8;
    let one = std::hint::black_box(1u64);
    // SAFETY: registers only (the three operands); no memory, no stack, and
    // the flags are clobbered, which `asm!` assumes by default.
    unsafe {
        std::arch::asm!(
            "2:",
            "add {x}, {one}",
            "add {x}, {one}",
            "add {x}, {one}",
            "add {x}, {one}",
            "add {x}, {one}",
            "add {x}, {one}",
            "add {x}, {one}",
            "add {x}, {one}",
            "sub {left}, 1",
            "jnz 2b",
            x = inout(reg) x,
            left = inout(reg) left,
            one = in(reg) one,
            options(nomem, nostack),
        );
    }
    std::hint::black_box((x, left));
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cpuinfo_gives_the_first_cpus_mhz() {
        let text = "processor\t: 0\nmodel name\t: AMD EPYC\ncpu MHz\t\t: 2445.406\n\
                    processor\t: 1\ncpu MHz\t\t: 1800.000\n";
        let ghz = parse_cpuinfo_mhz(text).unwrap();
        assert!((ghz - 2.445406).abs() < 1e-9, "{ghz}");
        assert_eq!(parse_cpuinfo_mhz("model name: x\n"), None);
    }

    #[test]
    fn two_readings_that_differ_say_so_and_one_missing_stays_missing() {
        let at = |ghz| Clock {
            ghz: Some(ghz),
            how: "measured".into(),
            nominal_ghz: None,
        };
        let (c, note) = Clock::combine(&at(3.0), &at(3.02), 0.03);
        assert!((c.ghz.unwrap() - 3.01).abs() < 1e-9);
        assert!(note.is_none());
        let (_, note) = Clock::combine(&at(3.0), &at(2.0), 0.03);
        assert!(note.unwrap().contains("3.00 GHz before, 2.00 GHz after"));
        let none = Clock {
            ghz: None,
            how: "cannot be read".into(),
            nominal_ghz: None,
        };
        let (c, _) = Clock::combine(&none, &at(3.0), 0.03);
        assert_eq!(c.ghz, None);
        assert_eq!(c.cycles_per_byte(1000.0, 100.0), None);
        assert_eq!(at(2.0).cycles_per_byte(1000.0, 100.0), Some(20.0));
    }

    /// The loop itself: whatever the machine, a reading is a plausible
    /// clock (a broken loop, optimised away or mis-counted, is orders of
    /// magnitude off). Not a timing assertion on zp.
    #[test]
    #[cfg(target_arch = "x86_64")]
    fn the_measured_clock_is_a_plausible_frequency() {
        let c = Clock::measure();
        let ghz = c.ghz.expect("x86-64 measures");
        assert!((0.3..8.0).contains(&ghz), "{ghz} GHz");
    }
}
