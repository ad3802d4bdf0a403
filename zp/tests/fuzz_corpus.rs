//! Every file of the committed fuzz corpus (`zp/fuzz/corpus/<target>/`),
//! run through its target's body on the stable toolchain: CI replays what
//! the fuzzers found without nightly. The seed files are the test vectors
//! (`fuzzing::seeds`) and must stay what the vectors say.

mod fuzzing;

use std::path::PathBuf;

fn corpus() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("fuzz/corpus")
}

/// `ZP_FUZZ_ONLY=<part of a path>` replays only the matching files (with
/// `ZP_FUZZ_TRACE=1`, the `network` target prints its steps).
#[test]
fn every_corpus_file_runs_clean_through_its_target() {
    let only = std::env::var("ZP_FUZZ_ONLY").ok();
    let mut ran = 0;
    for target in fuzzing::TARGETS {
        let dir = corpus().join(target);
        let files: Vec<PathBuf> = std::fs::read_dir(&dir)
            .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
            .flatten()
            .map(|e| e.path())
            .collect();
        assert!(!files.is_empty(), "no corpus for {target}");
        for f in files {
            if only
                .as_deref()
                .is_some_and(|o| !f.to_string_lossy().contains(o))
            {
                continue;
            }
            let data = std::fs::read(&f).unwrap();
            let outcome = std::panic::catch_unwind(|| fuzzing::run(target, &data));
            assert!(outcome.is_ok(), "{} fails its target", f.display());
            ran += 1;
        }
    }
    eprintln!("{ran} corpus files replayed");
}

/// The seeds are the vectors: regenerated and compared, byte for byte
/// (`ZP_WRITE_SEEDS=1 cargo test -p zp --test fuzz_corpus` rewrites them).
#[test]
fn the_seed_corpus_is_the_test_vectors() {
    let write = std::env::var_os("ZP_WRITE_SEEDS").is_some();
    // `seeds` runs its handshakes on the RustCrypto provider in every build.
    for (target, name, bytes) in fuzzing::seeds() {
        if target == "frame" {
            zp::parse_frame(&bytes).unwrap_or_else(|e| panic!("seed {name} does not parse: {e}"));
        }
        let path = corpus().join(target).join(&name);
        if write {
            std::fs::create_dir_all(path.parent().unwrap()).unwrap();
            std::fs::write(&path, &bytes).unwrap();
        }
        let stored = std::fs::read(&path)
            .unwrap_or_else(|e| panic!("{}: {e} (ZP_WRITE_SEEDS=1 writes it)", path.display()));
        assert_eq!(
            stored,
            bytes,
            "{} differs from what the vectors give",
            path.display()
        );
    }
}
