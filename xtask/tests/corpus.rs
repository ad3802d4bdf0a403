//! The fast form of the planted-kinds corpus (`cargo xtask corpus --mini`):
//! five kinds of slowdown planted in a miniature zp, each bisected with
//! the default metric. Every bisect must name its planted commit, and the
//! top of every hotspot diff the function the plant touched, including
//! time spent in libc (memcpy, malloc), in the kernel (a system call) and
//! in a dependency built without optimisation. Where valgrind is installed
//! (it is wherever the suite runs: `scripts/install-tools.sh`) every one of
//! these plants moves the instruction counts, so every hotspot diff is
//! callgrind's exact one: the same top function every run, whatever the
//! load. The full form runs on zp itself: `scripts/hotspot-corpus.sh`.

#[test]
fn every_kind_of_slowdown_is_found_and_blamed_on_the_function_it_touched() {
    let root = xtask::workspace_root();
    let target = xtask::vcs::workspace::target_dir(&root).unwrap();
    let (rows, _mini) = xtask::commands::corpus::mini(&root, &target, "dev", None).unwrap();
    let table = xtask::commands::corpus::render(&rows);
    eprintln!("{table}");
    assert_eq!(rows.len(), 5, "{table}");
    for r in &rows {
        assert!(r.culprit_ok, "{}: wrong commit\n{table}", r.kind);
        assert!(r.hotspot_ok, "{}: wrong hotspot\n{table}", r.kind);
        assert_eq!(
            r.instrument,
            Some(xtask::measure::hotspots::Instrument::Callgrind),
            "{}: the hotspots should be exact\n{table}",
            r.kind
        );
    }
}
