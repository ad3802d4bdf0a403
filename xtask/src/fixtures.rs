//! Deterministic runs for the tests: fixed machine, build and samples, so
//! verdicts and rendered reports are reproducible byte for byte.

use crate::budgets::{Budgets, Category};
use crate::host::{Build, Machine};
use crate::storage::store::{Allocs, Measured, Run, SCHEMA, Settings, Timing};
use std::collections::BTreeMap;

pub fn budgets() -> Budgets {
    Budgets::load(&crate::workspace_root().join("profiles/budgets.toml")).unwrap()
}

pub fn machine() -> Machine {
    Machine {
        cpu: "AMD EPYC".into(),
        cores: 2,
        memory_gib: 24,
        os: "linux".into(),
        kernel: "6.1.0".into(),
        features: ["aes", "pclmulqdq", "avx2", "bmi2", "adx"]
            .map(String::from)
            .to_vec(),
        fingerprint: "00112233aabbccdd".into(),
    }
}

pub fn build() -> Build {
    Build {
        toolchain: "rustc 1.95.0 (59807616e 2026-04-14)".into(),
        opt_level: "3".into(),
        debug_assertions: false,
        lto: "false".into(),
        codegen_units: None,
        rustflags: String::new(),
        features: Vec::new(),
        crates: [("chacha20poly1305", "0.11.0"), ("x25519-dalek", "3.0.0")]
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .into(),
    }
}

/// Five rounds whose medians are `median` scaled by fixed offsets within
/// ±3 %; each round has samples spread ±1 % around its median.
pub fn timing(median: f64) -> Timing {
    let offsets = [0.0, 0.02, -0.01, 0.03, -0.02];
    let rounds = offsets
        .iter()
        .map(|o| {
            let m = median * (1.0 + o);
            vec![m * 0.99, m * 0.995, m, m * 1.005, m * 1.01]
        })
        .collect();
    Timing::from_rounds(rounds)
}

pub fn time(category: Category, median_ns: f64, allocs: f64) -> Measured {
    Measured {
        category,
        time: Some(timing(median_ns)),
        bytes: None,
        allocs: Some(Allocs {
            per_iter: allocs,
            bytes_per_iter: allocs * 64.0,
            peak_live_bytes: 0,
            top_sites: Vec::new(),
        }),
    }
}

pub fn bytes(n: u64) -> Measured {
    Measured {
        category: Category::Memory,
        time: None,
        bytes: Some(n),
        allocs: None,
    }
}

pub fn run(id: &str, commit: &str, benchmarks: Vec<(&str, Measured)>) -> Run {
    Run {
        schema: SCHEMA.into(),
        id: id.into(),
        created: "2026-11-24T12:00:00Z".into(),
        commit: Some(commit.into()),
        dirty: false,
        machine: machine(),
        build: build(),
        settings: Settings {
            quick: false,
            warm_up_s: 0.5,
            measurement_s: 1.0,
            sample_size: 20,
        },
        benchmarks: benchmarks
            .into_iter()
            .map(|(k, v)| (k.to_string(), v))
            .collect::<BTreeMap<_, _>>(),
    }
}

/// A small suite: one of each category, the datapath one optionally slowed.
pub fn suite(id: &str, commit: &str, record_64k_ns: f64, record_allocs: f64) -> Run {
    run(
        id,
        commit,
        vec![
            ("x25519_dh", time(Category::Crypto, 52_740.0, 0.0)),
            (
                "stranger_handshake_pqc1",
                time(Category::Handshake, 298_843.0, 41.0),
            ),
            (
                "encrypt_record_64k",
                time(Category::Datapath, record_64k_ns, record_allocs),
            ),
            ("connection_state_size", bytes(544)),
        ],
    )
}

/// A workspace of one's own: the committed budgets file under a temporary
/// root, with an empty run store.
pub fn temp_ctx() -> (tempfile::TempDir, crate::Ctx) {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(dir.path().join("profiles")).unwrap();
    for file in ["profiles/budgets.toml", "Cargo.toml", "Cargo.lock"] {
        std::fs::copy(crate::workspace_root().join(file), dir.path().join(file)).unwrap();
    }
    let ctx = crate::Ctx::new(
        dir.path().to_path_buf(),
        "bench",
        Some(dir.path().join("target")),
    )
    .unwrap();
    (dir, ctx)
}

/// The workbench's target directory, as cargo resolves it (asked once).
pub fn target() -> std::path::PathBuf {
    static TARGET: std::sync::OnceLock<std::path::PathBuf> = std::sync::OnceLock::new();
    TARGET
        .get_or_init(|| crate::vcs::workspace::target_dir(&crate::workspace_root()).unwrap())
        .clone()
}

/// The miniature zp's eight-commit history (see `mini.rs`).
pub fn mini_history(plant: bool) -> crate::mini::Mini {
    crate::mini::Mini::history(&crate::workspace_root(), &target(), plant).unwrap()
}

/// Builds the miniature zp's probe in its checkout (dev profile, the
/// shared target directory), as a plain `cargo build` would, and returns
/// the executable cargo names.
pub fn checkout_probe(m: &crate::mini::Mini) -> std::path::PathBuf {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let out = std::process::Command::new(cargo)
        .current_dir(m.root())
        .env("CARGO_TARGET_DIR", &m.target)
        .args(["build", "--profile", "dev", "-p", "zp", "--bench", "probe"])
        .arg("--message-format=json")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    crate::vcs::cargo::executables(&String::from_utf8_lossy(&out.stdout))["probe"].clone()
}

/// The probe's answer to an `alloc` request for a routine that allocates
/// nothing.
pub fn no_allocations(iters: u64) -> probe_protocol::Body {
    probe_protocol::Body::Alloc(probe_protocol::Alloc {
        iters,
        allocs_per_iter: 0.0,
        bytes_per_iter: 0.0,
        peak_live_bytes: 0,
        top_sites: vec![],
        dhat_file: None,
    })
}
