//! libFuzzer target `network`: its body is `tests/fuzzing`'s, which
//! `tests/fuzz_corpus.rs` also runs on every committed corpus file.

#![no_main]

#[path = "../../tests/fuzzing/mod.rs"]
mod fuzzing;

libfuzzer_sys::fuzz_target!(|data: &[u8]| fuzzing::network(data));
