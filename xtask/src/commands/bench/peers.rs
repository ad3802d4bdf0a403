//! `cargo xtask bench peers`: zp beside rustls, Noise and aws-lc's raw
//! AEAD loops, all in the `zp-peers` crate's one criterion group, measured
//! in the same rounds on the same machine, and reported as zp ÷ peer with
//! intervals, plus cycles per byte at the measured clock.

use crate::cli::flags;
use crate::host::{Machine, utc_now};
use crate::measure::clock::Clock;
use crate::measure::load;
use crate::model::peers::{self, PAIRS};
use crate::render::peers::{PeerReport, render};
use crate::rng::Rng;
use crate::storage::atomic;
use crate::vcs::cargo::{self, RoundShape};
use crate::{Ctx, Progress};
use anyhow::{Context, Result, bail};
use std::collections::BTreeMap;
use std::path::PathBuf;

/// The crate and its bench target.
const PACKAGE: &str = "zp-peers";
const TARGET: &str = "peers";

/// Paired rounds for every pair: the first or second look of
/// `peers::LOOKS` (8, 12, 18, 27, …). A pair held to a target that cannot
/// be decided yet gets more, look by look, up to the maximum.
const ROUNDS: usize = 12;
const QUICK_ROUNDS: usize = 8;
const MAX_ROUNDS: usize = 27;
const MAX_QUICK_ROUNDS: usize = 12;

/// What a peer run measures with: one benchmark's per-iteration times,
/// and the clock. The real one runs the built executable; tests pass a fake.
pub trait PeerInstruments {
    fn measure(&mut self, name: &str) -> Result<Vec<f64>>;
    fn clock(&mut self) -> Clock;
    /// Exact instructions per iteration (callgrind).
    fn instructions(&mut self, name: &str) -> Result<f64>;
    /// The seed of the round orders: the time, so that no two runs share
    /// an order.
    fn seed(&self) -> u64 {
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0x7065_6572, |d| d.as_nanos() as u64)
    }
}

impl flags::Bench {
    /// `bench peers`: refuses the flags that make no sense for it, builds,
    /// measures, stores the report and prints it.
    pub(super) fn run_peers(&self, ctx: &Ctx) -> Result<()> {
        self.check_peer_flags()?;
        let features = self.feature_list();
        eprintln!("building the peer benchmarks ({PACKAGE}) …");
        let exes = cargo::build_package_benches(
            &ctx.root,
            PACKAGE,
            &[TARGET],
            &ctx.probe_profile,
            &features,
        )?;
        let scratch = super::criterion_scratch(ctx, "criterion-peers-")?;
        let mut bencher = Bencher {
            exe: exes[TARGET].clone(),
            package_dir: ctx.root.join("peers"),
            home: scratch.path().to_path_buf(),
            shape: self.shape(),
        };
        self.execute_peers(ctx, &mut bencher)
    }

    fn check_peer_flags(&self) -> Result<()> {
        if self.save_baseline.is_some() || self.baseline.is_some() {
            bail!(
                "`bench peers` compares zp with its peers within one run, so it neither saves nor \
                 reads a baseline: leave out --save-baseline and --baseline"
            );
        }
        Ok(())
    }

    /// Measures every pair's benchmarks in shuffled rounds, judges them,
    /// stores the report under profiles/reports/ and prints it.
    pub fn execute_peers(&self, ctx: &Ctx, instruments: &mut dyn PeerInstruments) -> Result<()> {
        self.check_peer_flags()?;
        let features = self.feature_list();
        let rounds = if self.quick { QUICK_ROUNDS } else { ROUNDS };
        let span = load::Span::start();
        let before = instruments.clock();
        // Per pair, both sides' round medians. A round takes the pairs in
        // a random order and each pair's two sides back to back, in a
        // random order, so the two sides of a ratio are seconds apart
        // whatever else the round measures. (A benchmark in two pairs is
        // measured for each.)
        let mut medians: Vec<(Vec<f64>, Vec<f64>)> = vec![Default::default(); PAIRS.len()];
        let mut rng = Rng::new(instruments.seed());
        let all: Vec<usize> = (0..PAIRS.len()).collect();
        let progress = Progress::new((rounds * PAIRS.len() * 2) as u64, "zp and its peers");
        for r in 0..rounds {
            progress.phase(&format!("round {}/{rounds}", r + 1));
            measure_round(instruments, &all, &mut medians, &mut rng, &progress)?;
        }
        progress.finish();
        // A pair held to a target that its interval cannot decide yet gets
        // rounds up to the next look, up to `max`.
        let max = if self.quick {
            MAX_QUICK_ROUNDS
        } else {
            MAX_ROUNDS
        };
        loop {
            // Undecided pairs were all extended together, so they share
            // one round count; decided ones keep theirs.
            let undecided: Vec<usize> = all
                .iter()
                .copied()
                .filter(|i| {
                    let (zp, peer) = &medians[*i];
                    peers::judge(&PAIRS[*i], zp, peer).standing == peers::Standing::CannotDecideYet
                })
                .collect();
            let Some(first) = undecided.first() else {
                break;
            };
            let have = medians[*first].0.len();
            let next = peers::LOOKS.next_after(have);
            if next > max {
                break;
            }
            let names: Vec<String> = undecided
                .iter()
                .map(|i| format!("{} ÷ {}", PAIRS[*i].zp, PAIRS[*i].peer))
                .collect();
            let progress = Progress::new(
                ((next - have) * undecided.len() * 2) as u64,
                &format!(
                    "cannot decide yet ({}), rounds {}–{next}",
                    names.join(", "),
                    have + 1
                ),
            );
            for r in have..next {
                progress.phase(&format!("round {}/{next}", r + 1));
                measure_round(instruments, &undecided, &mut medians, &mut rng, &progress)?;
            }
            progress.finish();
        }
        let after = instruments.clock();

        // Exact instructions of the 64 KiB benchmarks: the record's and
        // the AEADs' overhead over the raw loop, free of the noise that
        // time has here.
        let mut counted: BTreeMap<&str, f64> = BTreeMap::new();
        let mut uncounted: Option<String> = None;
        let bulk: Vec<&str> = PAIRS
            .iter()
            .filter(|p| p.bytes > 0)
            .flat_map(|p| [p.zp, p.peer])
            .fold(Vec::new(), |mut v, n| {
                if !v.contains(&n) {
                    v.push(n);
                }
                v
            });
        let progress = Progress::new(bulk.len() as u64, "counting instructions (callgrind)");
        for name in bulk {
            progress.phase(name);
            match instruments.instructions(name) {
                Ok(n) => {
                    counted.insert(name, n);
                }
                Err(e) => {
                    crate::process::check()?;
                    uncounted = Some(format!("{e:#}"));
                    break;
                }
            }
            progress.inc();
        }
        progress.finish();
        let (clock, moved) = Clock::combine(&before, &after, 0.03);

        let mut cautions: Vec<String> = moved.into_iter().collect();
        if let Some(why) = uncounted {
            cautions.push(format!("no instruction counts: {why}"));
        }
        let pressure = span.share();
        if let Some(p) = pressure.filter(|p| *p > 0.05) {
            cautions.push(format!(
                "CPU pressure was {:.0}% during the run: another process wanted the CPU. \
                 Paired rounds keep the ratios fair to both sides, but times and cycles per byte \
                 are slower than on an idle machine",
                p * 100.0
            ));
        }
        let head = crate::vcs::git::head(&ctx.root)?;
        let (time, _) = utc_now();
        let code = match &head {
            Some(h) => format!(
                "commit {}{}",
                &h.commit[..7],
                if h.dirty {
                    " + uncommitted changes"
                } else {
                    ""
                }
            ),
            None => "no commit".into(),
        };
        let mut id = format!("peers-{time}");
        if let Some(h) = &head {
            id.push('-');
            id.push_str(&h.commit[..7]);
        }
        if !features.is_empty() {
            id = format!("{id}-{}", features.join("+"));
        }
        let machine = Machine::detect();
        let report = PeerReport {
            id,
            code,
            provider: if features.iter().any(|f| f == "aws-lc") {
                "aws-lc-rs".into()
            } else {
                "RustCrypto".into()
            },
            machine: format!(
                "{}; CPU pressure during the run: {}",
                machine.describe(),
                pressure.map_or("not exposed".into(), |p| format!("{:.0}%", p * 100.0))
            ),
            clock,
            rounds,
            round_seconds: self.shape().warm_up_s + self.shape().measurement_s,
            pairs: PAIRS
                .iter()
                .zip(&medians)
                .map(|(p, (zp, peer))| {
                    let mut j = peers::judge(p, zp, peer);
                    j.instructions = counted
                        .get(p.zp)
                        .zip(counted.get(p.peer))
                        .map(|(a, b)| (*a, *b));
                    j
                })
                .collect(),
            cautions,
        };
        let reports = ctx.store.reports();
        let md = reports.join(format!("{}.md", report.id));
        atomic::write(&md, render(&report, flags::Format::Markdown).as_bytes())?;
        atomic::write(
            &reports.join(format!("{}.json", report.id)),
            render(&report, flags::Format::Json).as_bytes(),
        )?;
        print!("{}", render(&report, self.format));
        eprintln!("stored: {}", md.display());
        Ok(())
    }
}

/// One round of the pairs `which`: in a random order, each pair's two
/// sides back to back in a random order; each side's median is appended.
fn measure_round(
    instruments: &mut dyn PeerInstruments,
    which: &[usize],
    medians: &mut [(Vec<f64>, Vec<f64>)],
    rng: &mut Rng,
    progress: &Progress,
) -> Result<()> {
    let mut order = which.to_vec();
    rng.shuffle(&mut order);
    for i in order {
        let pair = &PAIRS[i];
        let mut sides = [(pair.zp, true), (pair.peer, false)];
        rng.shuffle(&mut sides);
        for (name, is_zp) in sides {
            let m = crate::stats::median(&instruments.measure(name)?);
            let (zp, peer) = &mut medians[i];
            if is_zp {
                zp.push(m)
            } else {
                peer.push(m)
            }
            progress.inc();
        }
    }
    Ok(())
}

/// The built peers executable and how to run it.
struct Bencher {
    exe: PathBuf,
    package_dir: PathBuf,
    home: PathBuf,
    shape: RoundShape,
}

impl PeerInstruments for Bencher {
    fn measure(&mut self, name: &str) -> Result<Vec<f64>> {
        let mut samples = cargo::criterion_round(
            &self.exe,
            &self.package_dir,
            TARGET,
            &[name],
            self.shape,
            &self.home,
            &mut || {},
        )?;
        samples
            .remove(name)
            .with_context(|| format!("criterion measured nothing for peers/{name}"))
    }

    fn clock(&mut self) -> Clock {
        Clock::measure()
    }

    /// The executable in count mode under callgrind, collecting only the
    /// marker function: `COUNT_ITERS` iterations after one untimed call.
    fn instructions(&mut self, name: &str) -> Result<f64> {
        let dir = tempfile::tempdir().context("cannot create a folder for callgrind's output")?;
        let file = dir.path().join("callgrind.out");
        let mut cmd = std::process::Command::new("valgrind");
        cmd.current_dir(&self.package_dir)
            .arg("--tool=callgrind")
            .arg(format!("--callgrind-out-file={}", file.display()))
            .arg(format!("--toggle-collect=*{}*", probe_protocol::MARKER))
            .arg(&self.exe)
            .env("ZP_PEERS_COUNT", format!("{name}:{COUNT_ITERS}"));
        let out = match crate::process::output(&mut cmd, crate::process::Stderr::Capture) {
            Ok(out) => out,
            Err(e)
                if e.downcast_ref::<std::io::Error>()
                    .is_some_and(|io| io.kind() == std::io::ErrorKind::NotFound) =>
            {
                bail!("valgrind is not installed (scripts/install-tools.sh installs it)")
            }
            Err(e) => return Err(e),
        };
        if !out.status.success() {
            bail!(
                "valgrind --tool=callgrind on peers/{name} failed ({}): {}",
                out.status,
                crate::process::last_lines(&out.stderr, 3)
            );
        }
        let text = std::fs::read_to_string(&file)
            .with_context(|| format!("callgrind wrote no output for peers/{name}"))?;
        crate::measure::exact::parse(&text, COUNT_ITERS)?
            .per_iter("Ir")
            .with_context(|| format!("callgrind counted no instructions for peers/{name}"))
    }
}

/// Iterations counted under callgrind (64 KiB each: enough to drown the
/// loop's own few instructions); the report says how many.
const COUNT_ITERS: u64 = crate::render::peers::COUNT_ITERS_SHOWN;

#[cfg(test)]
mod tests {
    use super::*;

    /// Times from a closure, a fixed clock, and the order of the calls.
    struct Fake {
        time: fn(&str, usize) -> f64,
        calls: Vec<String>,
    }

    impl PeerInstruments for Fake {
        fn measure(&mut self, name: &str) -> Result<Vec<f64>> {
            self.calls.push(name.to_string());
            let t = (self.time)(name, self.calls.len());
            Ok(vec![t * 0.99, t, t * 1.01])
        }
        fn seed(&self) -> u64 {
            7
        }
        fn instructions(&mut self, name: &str) -> Result<f64> {
            Ok(if name.starts_with("raw_") {
                300_000.0
            } else {
                303_000.0
            })
        }
        fn clock(&mut self) -> Clock {
            Clock {
                ghz: Some(2.0),
                how: "fake".into(),
                nominal_ghz: None,
            }
        }
    }

    fn sorted(mut two: [&str; 2]) -> [&str; 2] {
        two.sort();
        two
    }

    fn peers_bench() -> flags::Bench {
        flags::Bench {
            filter: Some("peers".into()),
            save_baseline: None,
            baseline: None,
            quick: true,
            features: Some("aws-lc".into()),
            format: flags::Format::Json,
        }
    }

    #[test]
    fn every_benchmark_runs_once_a_round_in_varying_orders_and_the_report_is_stored() {
        let (_dir, ctx) = crate::fixtures::temp_ctx();
        let mut fake = Fake {
            time: |name, _| match name {
                "stranger_handshake_pqc1" => 200_000.0,
                "rustls_handshake_x25519mlkem768" => 300_000.0,
                _ => 30_000.0,
            },
            calls: Vec::new(),
        };
        peers_bench().execute_peers(&ctx, &mut fake).unwrap();
        let per_round = 2 * PAIRS.len();
        assert_eq!(fake.calls.len(), QUICK_ROUNDS * per_round);
        let rounds: Vec<&[String]> = fake.calls.chunks(per_round).collect();
        let mut want: Vec<[&str; 2]> = PAIRS.iter().map(|p| sorted([p.zp, p.peer])).collect();
        want.sort();
        for r in &rounds {
            // Each pair once, its two sides back to back.
            let mut got: Vec<[&str; 2]> = r
                .chunks(2)
                .map(|s| sorted([s[0].as_str(), s[1].as_str()]))
                .collect();
            got.sort();
            assert_eq!(got, want);
        }
        assert!(
            rounds.windows(2).any(|w| w[0] != w[1]),
            "the order is drawn anew each round"
        );
        let stored: Vec<PathBuf> = std::fs::read_dir(ctx.store.reports())
            .unwrap()
            .flatten()
            .map(|e| e.path())
            .filter(|p| p.extension().is_some_and(|x| x == "json"))
            .collect();
        assert_eq!(stored.len(), 1);
        let r: PeerReport = serde_json::from_slice(&std::fs::read(&stored[0]).unwrap()).unwrap();
        assert!(
            r.id.starts_with("peers-") && r.id.ends_with("-aws-lc"),
            "{}",
            r.id
        );
        assert_eq!(r.provider, "aws-lc-rs");
        let hs = &r.pairs[0];
        assert_eq!(hs.standing, peers::Standing::Met, "{hs:?}");
        assert!((hs.ratio.estimate - 2.0 / 3.0).abs() < 1e-9);
    }

    #[test]
    fn only_a_targeted_pair_that_cannot_decide_gets_more_rounds_up_to_the_maximum() {
        let (_dir, ctx) = crate::fixtures::temp_ctx();
        let mut fake = Fake {
            // The raw ChaCha20 loop swings ±15 % from call to call: the
            // record's ratio to it straddles ×1.05 whatever the rounds.
            time: |name, call| {
                let swing = [0.85, 1.15, 1.0, 0.9, 1.1, 0.95, 1.05][call * 5 % 7];
                match name {
                    "raw_chacha20poly1305_64k" => 30_000.0 * swing,
                    _ => 30_000.0,
                }
            },
            calls: Vec::new(),
        };
        peers_bench().execute_peers(&ctx, &mut fake).unwrap();
        let report = std::fs::read_dir(ctx.store.reports())
            .unwrap()
            .flatten()
            .map(|e| e.path())
            .find(|p| p.extension().is_some_and(|x| x == "json"))
            .unwrap();
        let r: PeerReport = serde_json::from_slice(&std::fs::read(report).unwrap()).unwrap();
        for p in &r.pairs {
            let undecided = p.standing == peers::Standing::CannotDecideYet;
            assert_eq!(
                undecided,
                p.zp == "encrypt_record_64k" && p.peer == "raw_chacha20poly1305_64k",
                "{p:?}"
            );
            let want = if undecided {
                MAX_QUICK_ROUNDS
            } else {
                QUICK_ROUNDS
            };
            assert_eq!(p.rounds, want, "{p:?}");
        }
        let extra = fake.calls.len() - QUICK_ROUNDS * 2 * PAIRS.len();
        assert_eq!(
            extra,
            (MAX_QUICK_ROUNDS - QUICK_ROUNDS) * 2,
            "only that pair, to the next look"
        );
    }

    #[test]
    fn a_baseline_flag_is_refused_with_the_reason() {
        let (_dir, ctx) = crate::fixtures::temp_ctx();
        let mut b = peers_bench();
        b.save_baseline = Some("main".into());
        let mut fake = Fake {
            time: |_, _| 1.0,
            calls: Vec::new(),
        };
        let err = b.execute_peers(&ctx, &mut fake).unwrap_err();
        assert!(
            err.to_string()
                .contains("neither saves nor reads a baseline"),
            "{err}"
        );
        assert!(fake.calls.is_empty(), "refused before measuring");
    }
}
