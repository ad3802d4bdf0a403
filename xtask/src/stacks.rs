//! Folded stacks (`root;caller;leaf count`, the format inferno and
//! flamegraph.pl read): parsing, hotspots by self and inclusive share, and
//! the functions whose share changed most between two profiles.

use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, BTreeSet};

/// Where a hotspot list came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Instrument {
    /// callgrind: exact instruction counts per call stack.
    Callgrind,
    /// pprof: sampled stacks, in time.
    Pprof,
}

impl Instrument {
    pub fn describe(self) -> &'static str {
        match self {
            Instrument::Callgrind => "callgrind's exact instruction counts",
            Instrument::Pprof => "pprof's samples of time",
        }
    }
}

/// A profile: stacks (root first) with their sample counts.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Profile {
    pub stacks: Vec<(Vec<String>, u64)>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Share {
    pub function: String,
    /// Percent of samples in which it is the leaf.
    pub self_pct: f64,
    /// Percent of samples in which it is anywhere on the stack.
    pub inclusive_pct: f64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Change {
    pub function: String,
    pub before_pct: f64,
    pub after_pct: f64,
    /// Its time after minus its time before, in percent of the whole time
    /// before: a share can shrink while the function's time grows.
    pub growth_pct: f64,
    /// One standard error of `growth_pct` from sampling (`None` when the
    /// costs are exact).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub noise_pct: Option<f64>,
}

impl Profile {
    /// Parses folded lines; lines that are not `stack count` are ignored.
    pub fn parse<'a>(lines: impl IntoIterator<Item = &'a str>) -> Profile {
        let stacks = lines
            .into_iter()
            .filter_map(|l| {
                let (stack, count) = l.trim_end().rsplit_once(' ')?;
                let count: u64 = count.parse().ok()?;
                let frames: Vec<String> = stack
                    .split(';')
                    .filter(|f| !f.is_empty())
                    .map(String::from)
                    .collect();
                (!frames.is_empty()).then_some((frames, count))
            })
            .collect();
        Profile { stacks }
    }

    pub fn total(&self) -> u64 {
        self.stacks.iter().map(|(_, c)| c).sum()
    }

    /// Folded lines again, for inferno.
    pub fn folded(&self) -> Vec<String> {
        self.stacks
            .iter()
            .map(|(f, c)| format!("{} {c}", f.join(";")))
            .collect()
    }

    /// Every function with its self and inclusive share, largest self
    /// share first. A function appearing twice in one stack (recursion)
    /// counts once for its inclusive share.
    pub fn shares(&self) -> Vec<Share> {
        let total = self.total().max(1) as f64;
        let mut own: BTreeMap<&str, u64> = BTreeMap::new();
        let mut incl: BTreeMap<&str, u64> = BTreeMap::new();
        for (frames, count) in &self.stacks {
            *own.entry(frames.last().expect("non-empty")).or_default() += count;
            let distinct: BTreeSet<&str> = frames.iter().map(String::as_str).collect();
            for f in distinct {
                *incl.entry(f).or_default() += count;
            }
        }
        let mut v: Vec<Share> = incl
            .iter()
            .map(|(f, c)| Share {
                function: f.to_string(),
                self_pct: 100.0 * *own.get(f).unwrap_or(&0) as f64 / total,
                inclusive_pct: 100.0 * *c as f64 / total,
            })
            .collect();
        v.sort_by(|a, b| {
            b.self_pct
                .total_cmp(&a.self_pct)
                .then(b.inclusive_pct.total_cmp(&a.inclusive_pct))
                .then(a.function.cmp(&b.function))
        });
        v
    }

    /// Shares for a hotspot table: standard-library leaves counted in their
    /// caller, other crates' leaves named with the zp function they ran in;
    /// only functions with self time, largest first.
    pub fn hotspots(&self) -> Vec<Share> {
        self.without_std_leaves()
            .attributed()
            .shares()
            .into_iter()
            .filter(|s| s.self_pct > 0.0)
            .collect()
    }

    /// The functions whose self time moved most from `before` to `self`,
    /// where `ratio` is the whole cost per iteration after over before
    /// (shares alone mislead: a new cost shrinks every other share). For a
    /// slowdown the largest growth comes first (a function that shrank is
    /// not its cause), for a speed-up the largest shrinkage.
    pub fn changes_from(&self, before: &Profile, ratio: f64, top: usize) -> Vec<Change> {
        let index = |p: &Profile| -> BTreeMap<String, f64> {
            p.shares()
                .into_iter()
                .map(|s| (s.function, s.self_pct))
                .collect()
        };
        let (b, a) = (index(before), index(self));
        let names: BTreeSet<&String> = b.keys().chain(a.keys()).collect();
        let mut v: Vec<Change> = names
            .into_iter()
            .map(|f| {
                let (before_pct, after_pct) =
                    (*b.get(f).unwrap_or(&0.0), *a.get(f).unwrap_or(&0.0));
                Change {
                    function: f.clone(),
                    before_pct,
                    after_pct,
                    growth_pct: after_pct * ratio - before_pct,
                    noise_pct: None,
                }
            })
            .filter(|c| c.growth_pct.abs() >= 0.05)
            .collect();
        let direction = if ratio >= 1.0 { -1.0 } else { 1.0 };
        v.sort_by(|x, y| {
            (direction * x.growth_pct)
                .total_cmp(&(direction * y.growth_pct))
                .then(x.function.cmp(&y.function))
        });
        v.truncate(top);
        v
    }

    /// Leaves renamed `leaf (in zp::function)` when the leaf is not zp's own
    /// code: inlined intrinsics (`mul`, `_mm256_shuffle_epi8`) say little
    /// without the zp function they ran in. For hotspot tables, not SVGs.
    pub fn attributed(&self) -> Profile {
        let stacks = self
            .stacks
            .iter()
            .map(|(frames, c)| {
                let mut frames = frames.clone();
                let leaf = frames.last().cloned().unwrap_or_default();
                let owner = frames.iter().rev().find(|f| is_zp(f)).cloned();
                if let (Some(o), false) = (owner, is_zp(&leaf)) {
                    *frames.last_mut().expect("non-empty") =
                        format!("{} (in {})", elide_generics(&leaf), elide_generics(&o));
                }
                (frames, *c)
            })
            .collect();
        Profile { stacks }
    }

    /// Each stack cut below its innermost frame that is not the standard
    /// library's (`core::`, `core_arch::`, `std::`, `alloc::`): intrinsics
    /// and iterator adaptors are inlined differently in every build, so the
    /// function that called them is the stable unit to compare commits by.
    pub fn without_std_leaves(&self) -> Profile {
        let stacks = self
            .stacks
            .iter()
            .map(|(frames, c)| {
                let keep = frames
                    .iter()
                    .rposition(|f| !is_std(f))
                    .map_or(frames.len(), |i| i + 1);
                (frames[..keep].to_vec(), *c)
            })
            .collect();
        Profile { stacks }
    }

    /// Each sample attributed to the innermost zp function on its stack,
    /// which includes the time of whatever outside zp that function called
    /// (crypto crates, the standard library). Inlined code in other crates
    /// is named differently by every build (`add_xor_rot` here, `inner`
    /// there, nothing at all elsewhere), but the zp function it ran under
    /// is not, so two commits are compared at this level.
    pub fn by_zp_function(&self) -> Profile {
        let stacks = self
            .stacks
            .iter()
            .map(|(frames, c)| {
                let unit = frames
                    .iter()
                    .rev()
                    .find(|f| is_zp(f))
                    .map_or_else(|| "outside zp".to_string(), |f| elide_generics(f));
                (vec![unit], *c)
            })
            .collect();
        Profile { stacks }
    }

    /// Stacks with a prefix frame (a benchmark's name), to merge a group
    /// into one flamegraph.
    pub fn prefixed(&self, root: &str) -> Profile {
        Profile {
            stacks: self
                .stacks
                .iter()
                .map(|(f, c)| {
                    (
                        std::iter::once(root.to_string())
                            .chain(f.iter().cloned())
                            .collect(),
                        *c,
                    )
                })
                .collect(),
        }
    }
}

/// zp's own frames start with its path (not merely mention it in generic
/// parameters); the probe's marker is not one.
fn is_zp(f: &str) -> bool {
    (f.starts_with("zp::") || f.starts_with("<zp::")) && !f.contains("zp_probe")
}

fn is_std(frame: &str) -> bool {
    let f = frame.trim_start_matches('<');
    ["core::", "core_arch::", "std::", "alloc::", "std_detect::"]
        .iter()
        .any(|p| f.starts_with(p))
}

/// `call<typenum::UInt<…>, State>` → `call<…>`: generic arguments elided,
/// the path and a qualified `<T as Trait>` head kept.
pub fn elide_generics(name: &str) -> String {
    let mut out = String::new();
    let mut depth = 0usize;
    let mut prev = ' ';
    for (i, c) in name.chars().enumerate() {
        if depth > 0 {
            match c {
                '<' => depth += 1,
                '>' => depth -= 1,
                _ => {}
            }
            if depth == 0 {
                out.push_str("<…>");
            }
        } else if c == '<' && i > 0 && (prev.is_alphanumeric() || prev == '_' || prev == ':') {
            depth = 1;
        } else {
            out.push(c);
        }
        prev = c;
    }
    out.replace("::<…>", "<…>")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fixture() -> Profile {
        Profile::parse(
            "main;zp::handshake;ml_kem::decap;keccak 50\n\
             main;zp::handshake;x25519::mul 30\n\
             main;zp::handshake;zp::handshake 5\n\
             main;zp::record::seal 15\n\
             not a folded line\n\
             main;broken x\n"
                .lines(),
        )
    }

    #[test]
    fn parses_folded_lines_and_skips_others() {
        let p = fixture();
        assert_eq!(p.stacks.len(), 4);
        assert_eq!(p.total(), 100);
        assert_eq!(p.folded()[1], "main;zp::handshake;x25519::mul 30");
    }

    #[test]
    fn self_and_inclusive_shares() {
        let s = fixture().shares();
        let get = |f: &str| s.iter().find(|x| x.function == f).unwrap().clone();
        assert_eq!(s[0].function, "keccak");
        assert_eq!(
            (get("keccak").self_pct, get("keccak").inclusive_pct),
            (50.0, 50.0)
        );
        // Recursion counts once: zp::handshake is on 85 of 100 stacks.
        assert_eq!(
            (
                get("zp::handshake").self_pct,
                get("zp::handshake").inclusive_pct
            ),
            (5.0, 85.0)
        );
        assert_eq!(
            (get("main").self_pct, get("main").inclusive_pct),
            (0.0, 100.0)
        );
    }

    #[test]
    fn the_hotspot_diff_ranks_the_largest_moves_in_time() {
        let before = fixture();
        let after = Profile::parse(
            "main;zp::handshake;ml_kem::decap;keccak 40\n\
             main;zp::handshake;x25519::mul 20\n\
             main;zp::record::seal;checksum 40\n"
                .lines(),
        );
        // Same time per iteration: growth equals the change of share.
        let c = after.changes_from(&before, 1.0, 3);
        assert_eq!(
            c[0],
            Change {
                function: "checksum".into(),
                before_pct: 0.0,
                after_pct: 40.0,
                growth_pct: 40.0,
                noise_pct: None,
            }
        );
        // A slowdown ranks by growth: what shrank least comes next, and
        // zp::record::seal, which shrank most (-15 %), is not in the top 3.
        assert_eq!(
            (c[1].function.as_str(), c[1].before_pct, c[1].after_pct),
            ("zp::handshake", 5.0, 0.0)
        );
        assert!(c.iter().all(|x| x.function != "zp::record::seal"), "{c:?}");
        assert_eq!(c.len(), 3);
        // 25 % slower in all: keccak's share fell from 50 % to 40 %, but its
        // time did not change (40 % of 1.25 is 50 % of the time before).
        let c = after.changes_from(&before, 1.25, 10);
        assert!(c.iter().all(|x| x.function != "keccak"), "{c:?}");
        assert_eq!(c[0].function, "checksum");
        assert!((c[0].growth_pct - 50.0).abs() < 1e-9);
    }

    #[test]
    fn leaves_are_attributed_to_their_zp_function() {
        let p = Profile::parse([
            "zp_probe_measured;zp::record::seal;core::mul 3",
            "zp_probe_measured;zp::frame::parse 1",
            "zp_probe_measured;generate<ml_kem::Params, zp::crypto::Rng>;ntt 1",
        ]);
        let names: Vec<String> = p
            .attributed()
            .shares()
            .into_iter()
            .filter(|s| s.self_pct > 0.0)
            .map(|s| s.function)
            .collect();
        // zp mentioned only in generic arguments does not make a frame zp's.
        assert_eq!(
            names,
            ["core::mul (in zp::record::seal)", "ntt", "zp::frame::parse"]
        );
    }

    #[test]
    fn standard_library_leaves_fold_into_their_caller() {
        let p = Profile::parse([
            "zp_probe_measured;zp::record::seal;chacha20::rounds;core_arch::avx2::_mm256_xor_si256 6",
            "zp_probe_measured;zp::record::seal;core::iter::step_by::next 3",
            "zp_probe_measured;zp::record::seal 1",
        ]);
        let top: Vec<(String, f64)> = p
            .without_std_leaves()
            .shares()
            .into_iter()
            .filter(|s| s.self_pct > 0.0)
            .map(|s| (s.function, s.self_pct))
            .collect();
        assert_eq!(
            top,
            [
                ("chacha20::rounds".to_string(), 60.0),
                ("zp::record::seal".to_string(), 40.0)
            ]
        );
    }

    #[test]
    fn zp_function_units_are_stable_across_inlining() {
        // The same code, named differently below zp by two builds.
        let a = Profile::parse([
            "zp_probe_measured;zp::record::seal;zp::rustcrypto::seal_in_place;chacha20::avx2::add_xor_rot 6",
            "zp_probe_measured;zp::record::seal;zp::rustcrypto::seal_in_place;poly1305::helpers::mul 4",
        ]);
        let b = Profile::parse([
            "zp_probe_measured;zp::record::seal;zp::rustcrypto::seal_in_place;inner;core::ptr::read 6",
            "zp_probe_measured;zp::record::seal;zp::rustcrypto::seal_in_place 4",
            "zp_probe_measured;zp::record::seal;core::iter::step_by::next 2",
            "zp_probe_measured;std::alloc::alloc 1",
        ]);
        let c = b.by_zp_function().changes_from(&a.by_zp_function(), 1.3, 5);
        let names: Vec<&str> = c.iter().map(|x| x.function.as_str()).collect();
        assert_eq!(names, ["zp::record::seal", "outside zp"], "{c:?}");
        assert!((c[0].growth_pct - 20.0).abs() < 1e-9, "{c:?}");
    }

    #[test]
    fn generics_are_elided() {
        assert_eq!(
            elide_generics("call<typenum::UInt<typenum::UTerm, B1>, poly1305::State>"),
            "call<…>"
        );
        assert_eq!(
            elide_generics("<poly1305::AdditionKey as core::ops::Add<poly1305::Aligned130>>::add"),
            "<poly1305::AdditionKey as core::ops::Add<…>>::add"
        );
        assert_eq!(
            elide_generics("Vec::<u8>::with_capacity"),
            "Vec<…>::with_capacity"
        );
        assert_eq!(elide_generics("zp::record::seal"), "zp::record::seal");
    }

    #[test]
    fn a_group_is_merged_under_each_benchmark_name() {
        let p = fixture().prefixed("stranger_handshake_pqc1");
        assert!(p.folded()[0].starts_with("stranger_handshake_pqc1;main;"));
    }
}
