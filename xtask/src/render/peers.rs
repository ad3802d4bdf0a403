//! The report of `cargo xtask bench peers`: zp beside each peer with the
//! ratio and its interval, then the distance to the hardware (throughput,
//! cycles per byte at the measured clock, zp over the raw AEAD loop).

use crate::cli::flags::Format;
use crate::measure::clock::Clock;
use crate::model::peers::{CONFIDENCE_PCT, Judged, Standing, Target};
use crate::render::report::table;
use crate::units::fmt_ns;
use serde::{Deserialize, Serialize};
use std::fmt::Write;

/// One peer run: what was measured, on what, and each pair judged.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct PeerReport {
    pub id: String,
    /// "commit 1234abc" or "commit 1234abc + uncommitted changes".
    pub code: String,
    /// zp's crypto provider in this build.
    pub provider: String,
    pub machine: String,
    pub clock: Clock,
    pub rounds: usize,
    /// criterion's time per benchmark in one round, in seconds.
    pub round_seconds: f64,
    pub pairs: Vec<Judged>,
    /// What makes any figure less certain (a busy machine, a moving clock).
    pub cautions: Vec<String>,
}

/// The iterations callgrind counts (the command's `COUNT_ITERS`).
pub const COUNT_ITERS_SHOWN: u64 = 20;

pub fn render(r: &PeerReport, format: Format) -> String {
    if format == Format::Json {
        return serde_json::to_string_pretty(r).expect("a report serializes") + "\n";
    }
    let md = format == Format::Markdown;
    let mut out = String::new();
    let h = if md { "## " } else { "" };
    let _ = writeln!(
        out,
        "{h}zp against its peers: run {} ({}, zp provider {})\n",
        r.id, r.code, r.provider
    );
    let _ = writeln!(
        out,
        "{} rounds (more, look by look, for a pair whose target they cannot decide); each \
         takes the pairs in a random order and a pair's two sides back to back ({:.1} s \
         each). Ratios are zp ÷ peer: the centre of the per-round ratios with its \
         {CONFIDENCE_PCT:.0}% interval (Wilcoxon signed-rank on paired rounds, valid at \
         whichever look stopped). A target is met or missed only by the whole interval.\n",
        r.rounds, r.round_seconds
    );
    let _ = writeln!(out, "{h}Peers\n");
    let peers: Vec<&Judged> = r
        .pairs
        .iter()
        .filter(|p| !p.peer.starts_with("raw_"))
        .collect();
    let rows: Vec<[String; 6]> = peers
        .iter()
        .map(|p| {
            [
                p.zp.clone(),
                fmt_ns(p.zp_ns),
                p.peer_is.clone(),
                fmt_ns(p.peer_ns),
                ratio(p, r.rounds),
                standing(p),
            ]
        })
        .collect();
    out.push_str(&table(
        &["zp", "time", "peer", "time", "zp ÷ peer", "target"],
        &rows,
        md,
    ));
    let notes: Vec<String> = peers
        .iter()
        .filter(|p| !p.note.is_empty())
        .map(|p| format!("- {} / {}: {}", p.zp, p.peer, p.note))
        .collect();
    if !notes.is_empty() {
        let _ = writeln!(out, "\n{}", notes.join("\n"));
    }

    let _ = writeln!(out, "\n{h}Distance to the hardware\n");
    let _ = writeln!(out, "Clock: {}.\n", r.clock.describe());
    // Exact instructions per iteration of a benchmark, from any pair.
    let instructions = |name: &str| -> Option<f64> {
        r.pairs.iter().find_map(|p| {
            let (zp, peer) = p.instructions?;
            (p.zp == name)
                .then_some(zp)
                .or((p.peer == name).then_some(peer))
        })
    };
    let mut seen: Vec<&str> = Vec::new();
    let mut rows: Vec<[String; 7]> = Vec::new();
    for p in r.pairs.iter().filter(|p| p.bytes > 0) {
        for (name, ns) in [(p.zp.as_str(), p.zp_ns), (p.peer.as_str(), p.peer_ns)] {
            if seen.contains(&name) {
                continue;
            }
            seen.push(name);
            let over_raw = r
                .pairs
                .iter()
                .find(|q| q.zp == name && q.peer.starts_with("raw_"));
            let bytes = p.bytes as f64;
            rows.push([
                name.to_string(),
                fmt_ns(ns),
                format!("{:.2} GB/s", bytes / ns),
                r.clock
                    .cycles_per_byte(ns, bytes)
                    .map_or("—".into(), |c| format!("{c:.2}")),
                instructions(name).map_or("—".into(), |i| format!("{:.2}", i / bytes)),
                over_raw.map_or("—".into(), |q| {
                    format!("{} {}", ratio(q, r.rounds), standing(q))
                        .trim_end()
                        .to_string()
                }),
                over_raw
                    .and_then(|q| q.instructions)
                    .map_or("—".into(), |(zp, raw)| format!("×{:.3}", zp / raw)),
            ]);
        }
    }
    out.push_str(&table(
        &[
            "64 KiB",
            "time",
            "throughput",
            "cycles/byte",
            "instructions/byte",
            "÷ raw loop, time",
            "÷ raw loop, instructions",
        ],
        &rows,
        md,
    ));
    if r.pairs.iter().any(|p| p.instructions.is_some()) {
        let _ = writeln!(
            out,
            "\nInstructions are exact (callgrind, {} iterations after one untimed call); \
             callgrind's virtual CPU has no AVX-512, so they count each library's AVX2 path.",
            COUNT_ITERS_SHOWN
        );
    }
    for c in &r.cautions {
        let _ = writeln!(out, "\nCAUTION: {c}");
    }
    let _ = writeln!(out, "\nMachine: {}", r.machine);
    out
}

/// The ratio and its interval; the pair's round count when it is not the
/// run's.
fn ratio(p: &Judged, rounds: usize) -> String {
    let iv = &p.ratio;
    let more = if p.rounds != rounds {
        format!(", {} rounds", p.rounds)
    } else {
        String::new()
    };
    if iv.high.is_infinite() {
        return format!("×{:.3} (too few rounds for an interval)", iv.estimate);
    }
    format!("×{:.3} [{:.3}, {:.3}]{more}", iv.estimate, iv.low, iv.high)
}

fn standing(p: &Judged) -> String {
    let Target::AtMost(t) = p.target else {
        return String::new();
    };
    let bound = if t == 1.0 {
        "no slower".to_string()
    } else {
        format!("≤ ×{t:.2}")
    };
    match p.standing {
        Standing::Met => format!("{bound}: met"),
        Standing::Missed => format!("{bound}: missed"),
        Standing::CannotDecideYet => format!(
            "{bound}: cannot decide yet (the interval spans ×{t:.2}; more rounds or a quieter machine would decide)"
        ),
        Standing::NoTarget => String::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::peers::{PAIRS, judge};

    fn report() -> PeerReport {
        // Rounds that move together (the machine) and apart (noise).
        let machine = [1.0, 1.01, 0.99, 1.0, 1.02, 0.98, 1.0, 1.01];
        let noise = [1.0, 1.004, 0.997, 1.002, 0.999, 1.003, 0.996, 1.001];
        let rounds = |ns: f64, jitter: bool| -> Vec<f64> {
            (0..8)
                .map(|i| ns * machine[i] * if jitter { noise[i] } else { 1.0 })
                .collect()
        };
        // (zp, peer) in ns, in PAIRS' order.
        let times = [
            (250_000.0, 330_000.0),
            (850.0, 190_000.0),
            (120_000.0, 540_000.0),
            (29_300.0, 31_000.0),
            (29_300.0, 25_000.0),
            (25_100.0, 25_000.0),
            (6_500.0, 6_300.0),
        ];
        // Exact instructions of the 64 KiB benchmarks, zp's and the peer's.
        let counted = [
            None,
            None,
            None,
            Some((310_000.0, 420_000.0)),
            Some((310_000.0, 305_000.0)),
            Some((306_000.0, 305_000.0)),
            Some((96_000.0, 95_500.0)),
        ];
        let pairs = PAIRS
            .iter()
            .zip(times.into_iter().zip(counted))
            .map(|(pair, ((zp, peer), instructions))| Judged {
                instructions,
                ..judge(pair, &rounds(zp, true), &rounds(peer, false))
            })
            .collect();
        PeerReport {
            id: "peers-20261204-120000-abcdef1-aws-lc".into(),
            code: "commit abcdef1".into(),
            provider: "aws-lc-rs".into(),
            machine: "AMD EPYC, 2 cores, 24 GiB".into(),
            clock: Clock {
                ghz: Some(2.45),
                how: "measured".into(),
                nominal_ghz: Some(2.445),
            },
            rounds: 8,
            round_seconds: 1.5,
            pairs,
            cautions: vec!["the clock moved".into()],
        }
    }

    #[test]
    fn the_peer_report_reads_at_a_glance() {
        insta::assert_snapshot!(render(&report(), Format::Text));
    }

    #[test]
    fn markdown_and_json_carry_the_same_pairs() {
        let r = report();
        let md = render(&r, Format::Markdown);
        assert!(md.starts_with("## zp against its peers"), "{md}");
        assert!(md.contains("| stranger_handshake_pqc1 "), "{md}");
        let json: PeerReport = serde_json::from_str(&render(&r, Format::Json)).unwrap();
        let names = |pairs: &[Judged]| -> Vec<(String, String, Standing)> {
            pairs
                .iter()
                .map(|p| (p.zp.clone(), p.peer.clone(), p.standing))
                .collect()
        };
        assert_eq!(names(&json.pairs), names(&r.pairs));
    }

    #[test]
    fn without_a_clock_there_are_no_cycles_per_byte_and_the_report_says_why() {
        let mut r = report();
        r.clock = Clock {
            ghz: None,
            how: "cannot be read: no dependent-add loop for riscv64, so no cycles per byte".into(),
            nominal_ghz: None,
        };
        let text = render(&r, Format::Text);
        assert!(text.contains("Clock: cannot be read"), "{text}");
        assert!(text.contains("the OS reports no frequency"), "{text}");
        let row: Vec<&str> = text
            .lines()
            .find(|l| l.starts_with("encrypt_record_64k") && l.contains("GB/s"))
            .unwrap()
            .split_whitespace()
            .collect();
        let after = row.iter().position(|w| *w == "GB/s").unwrap() + 1;
        assert_eq!(row[after], "—", "{text}");
    }
}
