//! zp against its peers and the raw primitive, as data: which zp benchmark
//! stands beside which peer (criterion group `peers` of the `zp-peers`
//! crate), the target each pair is held to, and the judgement of one run's
//! paired rounds.
//!
//! Each round measures every pair once, its two sides back to back, so
//! they share whatever the machine did then; the ratio
//! zp ÷ peer is the centre of the per-round ratios with its Wilcoxon
//! signed-rank interval (`sequential::paired`). A pair held to a target
//! that cannot be decided gets more rounds, so intervals are looked at
//! only at the planned round counts of `Looks::PAIRED` (8, 12, 18, 27, …),
//! each look spending its share of α: the interval is valid at whatever
//! look stopped, as in the rest of the workbench. A target is met only when the whole interval is inside it, missed
//! only when the whole interval is outside; anything else is "cannot
//! decide yet", with the interval.

use crate::model::sequential::{self, Interval, Looks};
use serde::{Deserialize, Serialize};

/// What a pair's ratio is held to.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub enum Target {
    /// zp ÷ peer at most this (1.0: no slower; 1.05: within 5 %).
    AtMost(f64),
    /// Shown for context only: the two do different work (the notes say
    /// what), or no target was set.
    None,
}

/// One zp benchmark beside one peer.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Pair {
    /// zp's benchmark (a name of zp's registry).
    pub zp: &'static str,
    /// The peer's benchmark in the `peers` group.
    pub peer: &'static str,
    /// What the peer is, in a few words.
    pub peer_is: &'static str,
    pub target: Target,
    /// Bytes each iteration processes, for throughput and cycles per byte;
    /// 0 for handshakes.
    pub bytes: u64,
    /// What the two do differently, when they do.
    pub note: &'static str,
}

/// zp's benchmarks beside the peers, then beside the raw AEAD loops.
pub const PAIRS: &[Pair] = &[
    Pair {
        zp: "stranger_handshake_pqc1",
        peer: "rustls_handshake_x25519mlkem768",
        peer_is: "rustls TLS 1.3 full handshake, X25519MLKEM768, ECDSA P-256 certificate",
        target: Target::AtMost(1.0),
        bytes: 0,
        note: "both sides in memory; rustls also signs and verifies the certificate, zp sends none",
    },
    Pair {
        zp: "session_resume",
        peer: "rustls_resumed_handshake",
        peer_is: "rustls TLS 1.3 resumed handshake (stateless ticket, X25519MLKEM768)",
        target: Target::None,
        bytes: 0,
        note: "different work: zp's benchmark opens a resumption token (server side); \
               rustls's resumes a whole handshake, both sides, with a fresh hybrid key exchange \
               and a new ticket",
    },
    Pair {
        zp: "stranger_handshake_classical",
        peer: "snow_handshake_xx",
        peer_is: "snow Noise_XX_25519_ChaChaPoly_BLAKE2s handshake (RustCrypto)",
        target: Target::None,
        bytes: 0,
        note: "XX also authenticates static keys (two more DH operations); snow has no aws-lc backend",
    },
    Pair {
        zp: "encrypt_record_64k",
        peer: "rustls_encrypt_64k",
        peer_is: "rustls TLS 1.3 application data, ChaCha20-Poly1305, 4 records of 16 KiB",
        target: Target::AtMost(1.05),
        bytes: 64 * 1024,
        note: "zp seals one 64 KiB record in place; rustls copies through its buffers",
    },
    Pair {
        zp: "encrypt_record_64k",
        peer: "raw_chacha20poly1305_64k",
        peer_is: "aws-lc ChaCha20-Poly1305 in a tight loop",
        target: Target::AtMost(1.05),
        bytes: 64 * 1024,
        note: "",
    },
    Pair {
        zp: "chacha20poly1305_encrypt_64k",
        peer: "raw_chacha20poly1305_64k",
        peer_is: "aws-lc ChaCha20-Poly1305 in a tight loop",
        target: Target::None,
        bytes: 64 * 1024,
        note: "",
    },
    Pair {
        zp: "aes256gcm_encrypt_64k",
        peer: "raw_aes256gcm_64k",
        peer_is: "aws-lc AES-256-GCM in a tight loop",
        target: Target::None,
        bytes: 64 * 1024,
        note: "",
    },
];

/// How a pair's interval stands against its target.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Standing {
    Met,
    Missed,
    CannotDecideYet,
    NoTarget,
}

/// One pair, judged.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Judged {
    pub zp: String,
    pub peer: String,
    pub peer_is: String,
    pub note: String,
    pub bytes: u64,
    /// Medians over rounds of each round's median, in ns.
    pub zp_ns: f64,
    pub peer_ns: f64,
    /// zp ÷ peer: the estimate and its interval.
    pub ratio: Interval,
    pub target: Target,
    pub standing: Standing,
    pub rounds: usize,
    /// Exact instructions per iteration (callgrind), zp's and the peer's,
    /// where they were counted.
    #[serde(default)]
    pub instructions: Option<(f64, f64)>,
}

/// The interval's confidence in percent (two-sided, one look).
pub const CONFIDENCE_PCT: f64 = sequential::CONFIDENCE_PCT;

/// How rounds are looked at.
pub const LOOKS: Looks = Looks::PAIRED;

/// Judges `pair` from per-round medians measured in the same rounds, at
/// the last look their count reaches (fewer than the first look's rounds:
/// no interval, so nothing is decided).
pub fn judge(pair: &Pair, zp_rounds: &[f64], peer_rounds: &[f64]) -> Judged {
    let ratio = match LOOKS.reached(zp_rounds.len().min(peer_rounds.len())) {
        Some((k, n)) => sequential::paired(&peer_rounds[..n], &zp_rounds[..n], Looks::level(k)),
        None => Interval {
            estimate: crate::stats::median(zp_rounds) / crate::stats::median(peer_rounds),
            low: 0.0,
            high: f64::INFINITY,
        },
    };
    let standing = match pair.target {
        Target::None => Standing::NoTarget,
        Target::AtMost(t) if ratio.high <= t => Standing::Met,
        Target::AtMost(t) if ratio.low > t => Standing::Missed,
        Target::AtMost(_) => Standing::CannotDecideYet,
    };
    Judged {
        zp: pair.zp.into(),
        peer: pair.peer.into(),
        peer_is: pair.peer_is.into(),
        note: pair.note.into(),
        bytes: pair.bytes,
        zp_ns: crate::stats::median(zp_rounds),
        peer_ns: crate::stats::median(peer_rounds),
        ratio,
        target: pair.target,
        standing,
        rounds: zp_rounds.len(),
        instructions: None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pair(target: Target) -> Pair {
        Pair { target, ..PAIRS[0] }
    }

    #[test]
    fn every_zp_side_is_a_benchmark_of_the_registry() {
        let budgets = crate::fixtures::budgets();
        for p in PAIRS {
            assert!(budgets.get(p.zp).is_some(), "{} is a zp benchmark", p.zp);
        }
    }

    #[test]
    fn a_target_is_met_or_missed_only_by_the_whole_interval() {
        let peer = [100.0, 101.0, 99.0, 100.0, 102.0, 98.0, 100.0, 101.0];
        let at = |r: f64| peer.iter().map(|p| p * r).collect::<Vec<_>>();
        // zp 20 % faster in every round: met "no slower".
        let j = judge(&pair(Target::AtMost(1.0)), &at(0.8), &peer);
        assert_eq!(j.standing, Standing::Met);
        assert!((j.ratio.estimate - 0.8).abs() < 1e-9, "{:?}", j.ratio);
        // 20 % slower in every round: missed.
        assert_eq!(
            judge(&pair(Target::AtMost(1.0)), &at(1.2), &peer).standing,
            Standing::Missed
        );
        // Rounds that disagree: the interval straddles the target.
        let mixed: Vec<f64> = peer
            .iter()
            .enumerate()
            .map(|(i, p)| if i % 2 == 0 { p * 0.9 } else { p * 1.1 })
            .collect();
        assert_eq!(
            judge(&pair(Target::AtMost(1.0)), &mixed, &peer).standing,
            Standing::CannotDecideYet
        );
        assert_eq!(
            judge(&pair(Target::None), &at(0.8), &peer).standing,
            Standing::NoTarget
        );
    }

    #[test]
    fn too_few_rounds_never_decide() {
        let peer = [100.0; 7];
        let zp = [50.0; 7];
        let j = judge(&pair(Target::AtMost(1.0)), &zp, &peer);
        assert_eq!(j.standing, Standing::CannotDecideYet, "{:?}", j.ratio);
    }
}
