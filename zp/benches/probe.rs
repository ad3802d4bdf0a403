//! The probe: runs one benchmark routine of the registry for exactly N
//! iterations under one instrument and prints one JSON object on stdout.
//! The workbench builds it from zp at whatever commit it examines, so every
//! commit is measured with the same routines.
//!
//! ```text
//! probe --list
//! probe run NAME --instrument time      [--iters N] [--samples K]
//! probe run NAME --instrument counters  [--iters N]
//! probe run NAME --instrument pprof     [--seconds S] [--frequency HZ]
//! probe run NAME --instrument alloc     [--iters N] [--dhat-out PATH]
//! probe run NAME --instrument callgrind [--iters N]
//! ```
//!
//! `cargo bench` and `cargo test --benches` also run this target, with their
//! own flags: anything that is not one of the forms above exits 0 at once
//! and prints nothing on stdout.
//!
//! Exit codes: 0 success, 2 bad usage (unknown benchmark or instrument),
//! 3 the instrument is unavailable on this machine.

mod suite;

use probe_protocol::{
    Alloc, Body, Bytes, Callgrind, Counters, EXIT_UNAVAILABLE, EXIT_USAGE, IN_VALGRIND, Instrument,
    MARKER, PROTOCOL, Pprof, Reply, Request, Site, Time, Unavailable,
};
use serde_json::Value;
use std::collections::BTreeMap;
use std::process::{Command, ExitCode};
use std::time::{Duration, Instant};
use suite::Kind;

#[global_allocator]
static ALLOC: dhat::Alloc = dhat::Alloc;

/// Runs `routine` `iters` times. Never inlined, so that callgrind can
/// collect exactly this function's instructions (`--toggle-collect`); its
/// name is the protocol's `MARKER`.
#[inline(never)]
fn zp_probe_measured(routine: &mut dyn FnMut(), iters: u64) {
    for _ in 0..iters {
        routine();
    }
}

enum Failure {
    Usage(String),
    Unavailable(String),
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let result = match args.first().map(String::as_str) {
        _ if args.iter().any(|a| a == "--bench") => return ExitCode::SUCCESS,
        Some("--list") | Some("list") => {
            for b in suite::all() {
                println!("{}", probe_protocol::list_line(b.name, b.category.as_str()));
            }
            return ExitCode::SUCCESS;
        }
        Some("run") => Request::parse(&args[1..])
            .map_err(|e| Failure::Usage(format!("{e}\n{USAGE}")))
            .and_then(|r| run(&r)),
        Some("--help") | Some("-h") => {
            eprintln!("{USAGE}");
            return ExitCode::SUCCESS;
        }
        // Run by `cargo test --benches` (no flags, or test-harness flags).
        _ => return ExitCode::SUCCESS,
    };
    match result {
        Ok(Some(reply)) => {
            println!(
                "{}",
                serde_json::to_string(&reply).expect("replies serialize")
            );
            ExitCode::SUCCESS
        }
        // The run inside valgrind prints nothing: its parent reads callgrind's file.
        Ok(None) => ExitCode::SUCCESS,
        Err(Failure::Usage(msg)) => {
            eprintln!("probe: {msg}");
            ExitCode::from(EXIT_USAGE)
        }
        Err(Failure::Unavailable(msg)) => {
            eprintln!("probe: {msg}");
            ExitCode::from(EXIT_UNAVAILABLE)
        }
    }
}

const USAGE: &str = "usage: probe --list | probe run NAME --instrument time|counters|pprof|alloc|callgrind \
[--iters N] [--samples K] [--seconds S] [--frequency HZ] [--dhat-out PATH]";

fn names() -> String {
    suite::all()
        .iter()
        .map(|b| b.name)
        .collect::<Vec<_>>()
        .join(", ")
}

fn run(r: &Request) -> Result<Option<Reply>, Failure> {
    let bench = suite::find(&r.bench).ok_or_else(|| {
        Failure::Usage(format!(
            "unknown benchmark '{}'; valid: {}",
            r.bench,
            names()
        ))
    })?;
    let reply = |body| {
        Some(Reply {
            protocol: PROTOCOL,
            benchmark: bench.name.to_string(),
            category: bench.category.as_str().to_string(),
            body,
        })
    };
    let setup = match bench.kind {
        Kind::Bytes(measure) => {
            let bytes = measure(suite::probe_env());
            return Ok(reply(Body::Bytes(Bytes { bytes })));
        }
        Kind::Time(setup) => move || setup(suite::probe_env()),
    };
    Ok(match &r.instrument {
        // dhat must be running before setup, so `alloc` builds its own routine.
        Instrument::Alloc { iters, dhat_out } => {
            reply(Body::Alloc(alloc(setup, *iters, dhat_out.as_deref())))
        }
        Instrument::Time { samples, iters } => {
            reply(Body::Time(time(&mut setup(), *samples, *iters)))
        }
        Instrument::Counters { iters } => reply(Body::Counters(counters(&mut setup(), *iters))),
        Instrument::Pprof { seconds, frequency } => {
            reply(Body::Pprof(pprof(&mut setup(), *seconds, *frequency)?))
        }
        Instrument::Callgrind { iters } => {
            if std::env::var_os(IN_VALGRIND).is_some() {
                // Inside valgrind: just run the marked function.
                zp_probe_measured(&mut setup(), *iters);
                return Ok(None);
            }
            reply(Body::Callgrind(callgrind(&r.bench, *iters)?))
        }
    })
}

/// Iterations per sample such that one sample takes about `target`.
fn calibrate(routine: &mut dyn FnMut(), target: Duration) -> u64 {
    let mut iters = 1u64;
    loop {
        let t = Instant::now();
        zp_probe_measured(routine, iters);
        let e = t.elapsed();
        if e >= target / 2 || iters >= 1 << 30 {
            let per = e.as_secs_f64() / iters as f64;
            return ((target.as_secs_f64() / per.max(1e-9)) as u64).max(1);
        }
        iters *= 2;
    }
}

/// The time this thread has spent runnable but waiting for a CPU, in
/// nanoseconds (`/proc/thread-self/schedstat`'s second field; it grows
/// only while the thread waits, so reading it while running is exact).
/// Its first field, time on a CPU, is not used: for the running thread it
/// lags by up to a scheduler tick (4 ms at HZ = 250, against ~10 ms
/// samples).
fn thread_wait_ns() -> Option<u64> {
    let text = std::fs::read_to_string("/proc/thread-self/schedstat").ok()?;
    text.split_whitespace().nth(1)?.parse().ok()
}

/// This thread's CPU time as perf-event's task clock counts it: a software
/// event the kernel brings up to date on every read, exact to the
/// nanosecond (`None` where perf events are not allowed).
struct ThreadClock(Option<perf_event::Counter>);

impl ThreadClock {
    fn start() -> ThreadClock {
        use perf_event::events::Software;
        let counter = perf_event::Builder::new()
            .kind(Software::TASK_CLOCK)
            .build()
            .and_then(|mut c| c.enable().map(|()| c));
        ThreadClock(counter.ok())
    }

    fn now_ns(&mut self) -> Option<u64> {
        self.0.as_mut()?.read().ok()
    }
}

fn time(routine: &mut dyn FnMut(), samples: u32, iters: Option<u64>) -> Time {
    let iters = iters.unwrap_or_else(|| calibrate(routine, Duration::from_millis(10)));
    // One unmeasured sample warms caches and the branch predictor.
    zp_probe_measured(routine, iters);
    let per = |ns: f64| ns / iters as f64;
    let mut clock = ThreadClock::start();
    let mut wall = Vec::with_capacity(samples as usize);
    let mut cpu = Vec::with_capacity(samples as usize);
    let mut wait = Vec::with_capacity(samples as usize);
    for _ in 0..samples {
        // Read outside the wall clock's span: a microsecond or a file read
        // against a sample of ~10 ms.
        let w0 = thread_wait_ns();
        let c0 = clock.now_ns();
        let t = Instant::now();
        zp_probe_measured(routine, iters);
        let e = t.elapsed();
        let c1 = clock.now_ns();
        let w1 = thread_wait_ns();
        wall.push(per(e.as_nanos() as f64));
        cpu.push(c0.zip(c1).map(|(a, b)| per(b.saturating_sub(a) as f64)));
        wait.push(w0.zip(w1).map(|(a, b)| per(b.saturating_sub(a) as f64)));
    }
    Time {
        iters_per_sample: iters,
        samples_ns: wall,
        cpu_ns: cpu.into_iter().collect(),
        wait_ns: wait.into_iter().collect(),
    }
}

fn counters(routine: &mut dyn FnMut(), iters: Option<u64>) -> Counters {
    use perf_event::Builder;
    use perf_event::events::{Event, Hardware, Software};
    let iters = iters.unwrap_or_else(|| calibrate(routine, Duration::from_millis(200)));
    let wanted: [(&str, Event); 8] = [
        ("instructions", Hardware::INSTRUCTIONS.into()),
        ("cycles", Hardware::CPU_CYCLES.into()),
        ("branch_misses", Hardware::BRANCH_MISSES.into()),
        ("cache_misses", Hardware::CACHE_MISSES.into()),
        ("task_clock_ns", Software::TASK_CLOCK.into()),
        ("page_faults", Software::PAGE_FAULTS.into()),
        ("context_switches", Software::CONTEXT_SWITCHES.into()),
        ("cpu_migrations", Software::CPU_MIGRATIONS.into()),
    ];
    let mut per_iter = BTreeMap::new();
    let mut unavailable = Vec::new();
    for (name, event) in wanted {
        let measured = Builder::new().kind(event).build().and_then(|mut counter| {
            counter.enable()?;
            zp_probe_measured(routine, iters);
            counter.disable()?;
            counter.read()
        });
        match measured {
            Ok(v) => {
                per_iter.insert(name.to_string(), v as f64 / iters as f64);
            }
            Err(e) => unavailable.push(Unavailable {
                event: name.to_string(),
                reason: e.to_string(),
            }),
        }
    }
    Counters {
        iters,
        per_iter,
        unavailable,
    }
}

/// Removes the Rust symbol hash suffix (`::h0123456789abcdef`).
fn strip_hash(name: &str) -> &str {
    match name.rfind("::h") {
        Some(i) if name.len() - i == 19 && name[i + 3..].chars().all(|c| c.is_ascii_hexdigit()) => {
            &name[..i]
        }
        _ => name,
    }
}

/// A frame's name for folded stacks. Inlined frames carry only their short
/// name (`mul`, `ntt`); those get the crate and file they come from
/// (`curve25519_dalek::field::mul`), so a hotspot says whose code it is.
fn frame_name(s: &pprof::Symbol) -> String {
    let name = strip_hash(&s.name()).to_string();
    if name.contains("::") {
        return name;
    }
    match s.filename.as_deref().and_then(module_of) {
        Some(module) => format!("{module}::{name}"),
        None => name,
    }
}

/// `…/curve25519-dalek-5.0.0/src/backend/serial/u64/field.rs` →
/// `curve25519_dalek::field`; `zp/src/record.rs` → `zp::record`;
/// `…/library/core/src/num/mod.rs` → `core::num`.
fn module_of(path: &std::path::Path) -> Option<String> {
    let parts: Vec<&str> = path.iter().filter_map(|p| p.to_str()).collect();
    let src = parts.iter().rposition(|p| *p == "src")?;
    let dir = parts.get(src.checked_sub(1)?)?;
    // Registry folders are `name-version`: drop the version.
    let krate = match dir.rsplit_once('-') {
        Some((n, v)) if v.starts_with(|c: char| c.is_ascii_digit()) => n,
        _ => dir,
    };
    let file = path.file_stem()?.to_str()?;
    let module = if matches!(file, "mod" | "lib" | "main") {
        parts
            .get(parts.len().checked_sub(2)?)
            .filter(|p| **p != "src")
            .copied()
    } else {
        Some(file)
    };
    Some(match module {
        Some(m) => format!("{}::{m}", krate.replace('-', "_")),
        None => krate.replace('-', "_"),
    })
}

/// CPU time this process has used, from the scheduler's accounting
/// (`/proc/self/schedstat`, nanoseconds on the CPU); `None` where absent.
fn cpu_seconds() -> Option<f64> {
    let text = std::fs::read_to_string("/proc/self/schedstat").ok()?;
    let ns: u64 = text.split_whitespace().next()?.parse().ok()?;
    Some(ns as f64 / 1e9)
}

fn pprof(routine: &mut dyn FnMut(), seconds: f64, frequency: u32) -> Result<Pprof, Failure> {
    // Batches of about 10 ms: checking the clock after every call of a
    // 20 ns routine would put most of the time (and the samples) outside
    // the routine, in the vDSO's clock.
    let batch = calibrate(routine, Duration::from_millis(10));
    // Samples whose program counter lies in a blocklisted library are
    // dropped whole. Only the unwinder itself (libgcc) and the vDSO are
    // blocked: libc holds memcpy, malloc and every system call's wrapper,
    // whose time belongs to the zp function that called them (a getrandom
    // per record was invisible while libc was blocked, and its time was
    // blamed on whatever else the record layer did).
    let guard = pprof::ProfilerGuardBuilder::default()
        .frequency(frequency.min(i32::MAX as u32) as i32)
        .blocklist(&["libgcc", "vdso"])
        .build()
        .map_err(|e| Failure::Unavailable(format!("pprof cannot sample here: {e}")))?;
    let cpu_before = cpu_seconds();
    let start = Instant::now();
    let mut iters = 0u64;
    while start.elapsed().as_secs_f64() < seconds {
        zp_probe_measured(routine, batch);
        iters += batch;
    }
    let elapsed = start.elapsed();
    let cpu = cpu_before.zip(cpu_seconds()).map(|(a, b)| b - a);
    let report = guard
        .report()
        .build()
        .map_err(|e| Failure::Unavailable(format!("pprof report failed: {e}")))?;
    let mut folded: Vec<(String, isize)> = Vec::new();
    let (mut samples, mut total) = (0isize, 0isize);
    for (frames, count) in &report.data {
        total += count;
        // Root first; keep only what lies under the marked function, so the
        // sampler's and the probe's own frames never show.
        let names: Vec<String> = frames
            .frames
            .iter()
            .rev()
            .flat_map(|f| f.iter().rev().map(frame_name))
            .collect();
        let Some(root) = names.iter().position(|n| n.ends_with(MARKER)) else {
            continue;
        };
        samples += count;
        folded.push((names[root..].join(";"), *count));
    }
    folded.sort();
    Ok(Pprof {
        iters,
        seconds: elapsed.as_secs_f64(),
        frequency,
        samples: samples.max(0) as u64,
        folded: folded.iter().map(|(s, c)| format!("{s} {c}")).collect(),
        samples_total: Some(total.max(0) as u64),
        cpu_seconds: cpu,
    })
}

fn alloc(setup: impl FnOnce() -> suite::Routine, iters: u64, dhat_out: Option<&str>) -> Alloc {
    let path = dhat_out.map_or_else(
        || {
            std::env::temp_dir()
                .join(format!("zp-probe-dhat-{}.json", std::process::id()))
                .display()
                .to_string()
        },
        String::from,
    );
    let profiler = dhat::Profiler::builder().file_name(&path).build();
    let mut routine = setup();
    let before = dhat::HeapStats::get();
    zp_probe_measured(&mut routine, iters);
    let after = dhat::HeapStats::get();
    drop(routine);
    drop(profiler);
    let per = |a: u64, b: u64| (a - b) as f64 / iters as f64;
    let top_sites = top_sites(&path).unwrap_or_default();
    if dhat_out.is_none() {
        let _ = std::fs::remove_file(&path);
    }
    Alloc {
        iters,
        allocs_per_iter: per(after.total_blocks, before.total_blocks),
        bytes_per_iter: per(after.total_bytes, before.total_bytes),
        peak_live_bytes: after.max_bytes.saturating_sub(before.curr_bytes) as u64,
        top_sites,
        dhat_file: dhat_out.map(String::from),
    }
}

/// The allocation sites of a dhat-heap.json, most blocks first, with their
/// call stacks (zp frames and the frames just above them).
fn top_sites(path: &str) -> Option<Vec<Site>> {
    let v: Value = serde_json::from_str(&std::fs::read_to_string(path).ok()?).ok()?;
    let ftbl: Vec<&str> = v["ftbl"]
        .as_array()?
        .iter()
        .filter_map(Value::as_str)
        .collect();
    let mut sites: Vec<Site> = v["pps"]
        .as_array()?
        .iter()
        .map(|pp| Site {
            blocks: pp["tbk"].as_u64().unwrap_or(0),
            bytes: pp["tb"].as_u64().unwrap_or(0),
            stack: pp["fs"]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(|i| ftbl.get(i.as_u64()? as usize))
                .map(|f| f.to_string())
                .filter(|f| !f.contains("dhat::") && !f.contains("alloc::alloc::"))
                .take(8)
                .collect(),
        })
        .collect();
    sites.sort_by_key(|s| std::cmp::Reverse(s.blocks));
    sites.truncate(5);
    Some(sites)
}

fn callgrind(name: &str, iters: u64) -> Result<Callgrind, Failure> {
    let out = std::env::temp_dir().join(format!("zp-probe-callgrind-{}.out", std::process::id()));
    let exe = std::env::current_exe().map_err(|e| Failure::Unavailable(e.to_string()))?;
    let inner = Request {
        bench: name.to_string(),
        instrument: Instrument::Callgrind { iters },
    };
    let status = Command::new("valgrind")
        .arg("--tool=callgrind")
        .arg(format!("--callgrind-out-file={}", out.display()))
        .arg(format!("--toggle-collect=*{MARKER}*"))
        .arg(exe)
        .args(inner.to_args())
        .env(IN_VALGRIND, "1")
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .output();
    let output = match status {
        Ok(output) => output,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            return Err(Failure::Unavailable(
                "valgrind is not installed (scripts/install-tools.sh installs it); \
                 the time, counters, pprof and alloc instruments still work"
                    .into(),
            ));
        }
        Err(e) => return Err(Failure::Unavailable(format!("cannot run valgrind: {e}"))),
    };
    let text = std::fs::read_to_string(&out).unwrap_or_default();
    let _ = std::fs::remove_file(&out);
    if !output.status.success() {
        let err = String::from_utf8_lossy(&output.stderr);
        let tail: Vec<&str> = err.lines().rev().take(5).collect();
        return Err(Failure::Unavailable(format!(
            "valgrind failed: {}",
            tail.into_iter().rev().collect::<Vec<_>>().join(" | ")
        )));
    }
    let total = text
        .lines()
        .find_map(|l| {
            l.strip_prefix("totals:")
                .or_else(|| l.strip_prefix("summary:"))
        })
        .and_then(|l| l.split_whitespace().next()?.parse::<u64>().ok())
        .ok_or_else(|| Failure::Unavailable("callgrind wrote no totals".into()))?;
    Ok(Callgrind {
        iters,
        instructions_total: total,
        instructions_per_iter: total as f64 / iters as f64,
    })
}
