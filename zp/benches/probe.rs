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

use serde_json::{Value, json};
use std::process::{Command, ExitCode};
use std::time::{Duration, Instant};
use suite::Kind;

#[global_allocator]
static ALLOC: dhat::Alloc = dhat::Alloc;

/// Marker that callgrind's `--toggle-collect` counts instructions inside.
const MARKER: &str = "zp_probe_measured";
const INSTRUMENTS: [&str; 5] = ["time", "counters", "pprof", "alloc", "callgrind"];

/// Runs `routine` `iters` times. Never inlined, so that callgrind can
/// collect exactly this function's instructions (`--toggle-collect`).
#[inline(never)]
fn zp_probe_measured(routine: &mut dyn FnMut(), iters: u64) {
    for _ in 0..iters {
        routine();
    }
}

struct Opts {
    name: String,
    instrument: String,
    iters: Option<u64>,
    samples: usize,
    seconds: f64,
    frequency: i32,
    dhat_out: Option<String>,
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
                println!("{:<30} {}", b.name, b.category.as_str());
            }
            return ExitCode::SUCCESS;
        }
        Some("run") => parse(&args[1..]).and_then(|o| run(&o)),
        Some("--help") | Some("-h") => {
            eprintln!("{}", USAGE);
            return ExitCode::SUCCESS;
        }
        // Run by `cargo test --benches` (no flags, or test-harness flags).
        _ => return ExitCode::SUCCESS,
    };
    match result {
        Ok(v) => {
            println!("{v}");
            ExitCode::SUCCESS
        }
        Err(Failure::Usage(msg)) => {
            eprintln!("probe: {msg}");
            ExitCode::from(2)
        }
        Err(Failure::Unavailable(msg)) => {
            eprintln!("probe: {msg}");
            ExitCode::from(3)
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

fn parse(args: &[String]) -> Result<Opts, Failure> {
    let mut it = args.iter();
    let name = it
        .next()
        .ok_or_else(|| Failure::Usage(format!("no benchmark named\n{USAGE}")))?
        .clone();
    let mut o = Opts {
        name,
        instrument: "time".into(),
        iters: None,
        samples: 20,
        seconds: 10.0,
        frequency: 250,
        dhat_out: None,
    };
    while let Some(flag) = it.next() {
        let mut value = || {
            it.next()
                .cloned()
                .ok_or_else(|| Failure::Usage(format!("{flag} needs a value")))
        };
        let num = |v: String| {
            v.parse::<f64>()
                .map_err(|_| Failure::Usage(format!("{flag}: '{v}' is not a number")))
        };
        match flag.as_str() {
            "--instrument" => o.instrument = value()?,
            "--iters" => o.iters = Some(num(value()?)?.max(1.0) as u64),
            "--samples" => o.samples = num(value()?)?.max(1.0) as usize,
            "--seconds" => o.seconds = num(value()?)?.max(0.1),
            "--frequency" => o.frequency = num(value()?)?.clamp(1.0, 10_000.0) as i32,
            "--dhat-out" => o.dhat_out = Some(value()?),
            other => return Err(Failure::Usage(format!("unknown flag '{other}'\n{USAGE}"))),
        }
    }
    if !INSTRUMENTS.contains(&o.instrument.as_str()) {
        return Err(Failure::Usage(format!(
            "unknown instrument '{}'; valid: {}",
            o.instrument,
            INSTRUMENTS.join(", ")
        )));
    }
    Ok(o)
}

fn run(o: &Opts) -> Result<Value, Failure> {
    let bench = suite::find(&o.name).ok_or_else(|| {
        Failure::Usage(format!(
            "unknown benchmark '{}'; valid: {}",
            o.name,
            names()
        ))
    })?;
    let setup = match bench.kind {
        Kind::Bytes(measure) => {
            return Ok(json!({
                "benchmark": bench.name,
                "category": bench.category.as_str(),
                "instrument": "bytes",
                "bytes": measure(),
            }));
        }
        Kind::Time(setup) => setup,
    };
    let mut out = match o.instrument.as_str() {
        // dhat must be running before setup, so `alloc` builds its own routine.
        "alloc" => alloc(setup, o)?,
        "time" => time(&mut setup(), o),
        "counters" => counters(&mut setup(), o),
        "pprof" => pprof(&mut setup(), o)?,
        "callgrind" => callgrind(&mut setup(), o)?,
        _ => unreachable!("checked in parse"),
    };
    out["benchmark"] = json!(bench.name);
    out["category"] = json!(bench.category.as_str());
    out["instrument"] = json!(o.instrument);
    Ok(out)
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

fn time(routine: &mut dyn FnMut(), o: &Opts) -> Value {
    let iters = o
        .iters
        .unwrap_or_else(|| calibrate(routine, Duration::from_millis(10)));
    // One unmeasured sample warms caches and the branch predictor.
    zp_probe_measured(routine, iters);
    let samples: Vec<f64> = (0..o.samples)
        .map(|_| {
            let t = Instant::now();
            zp_probe_measured(routine, iters);
            t.elapsed().as_nanos() as f64 / iters as f64
        })
        .collect();
    json!({ "iters_per_sample": iters, "samples_ns": samples })
}

fn counters(routine: &mut dyn FnMut(), o: &Opts) -> Value {
    use perf_event::Builder;
    use perf_event::events::{Event, Hardware, Software};
    let iters = o
        .iters
        .unwrap_or_else(|| calibrate(routine, Duration::from_millis(200)));
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
    let mut available = serde_json::Map::new();
    let mut unavailable = Vec::new();
    for (name, event) in wanted {
        match Builder::new().kind(event).build() {
            Ok(mut counter) => {
                let measured = counter
                    .enable()
                    .map(|()| zp_probe_measured(routine, iters))
                    .and_then(|()| counter.disable())
                    .and_then(|()| counter.read());
                match measured {
                    Ok(v) => {
                        available.insert(name.into(), json!(v as f64 / iters as f64));
                    }
                    Err(e) => unavailable.push(json!({ "event": name, "reason": e.to_string() })),
                }
            }
            Err(e) => unavailable.push(json!({ "event": name, "reason": e.to_string() })),
        }
    }
    json!({ "iters": iters, "per_iter": available, "unavailable": unavailable })
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

fn pprof(routine: &mut dyn FnMut(), o: &Opts) -> Result<Value, Failure> {
    let guard = pprof::ProfilerGuardBuilder::default()
        .frequency(o.frequency)
        .blocklist(&["libc", "libgcc", "pthread", "vdso"])
        .build()
        .map_err(|e| Failure::Unavailable(format!("pprof cannot sample here: {e}")))?;
    let start = Instant::now();
    let mut iters = 0u64;
    while start.elapsed().as_secs_f64() < o.seconds {
        zp_probe_measured(routine, 1);
        iters += 1;
    }
    let elapsed = start.elapsed();
    let report = guard
        .report()
        .build()
        .map_err(|e| Failure::Unavailable(format!("pprof report failed: {e}")))?;
    let mut folded: Vec<(String, isize)> = Vec::new();
    let mut samples = 0isize;
    for (frames, count) in &report.data {
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
    let lines: Vec<String> = folded.iter().map(|(s, c)| format!("{s} {c}")).collect();
    Ok(json!({
        "iters": iters,
        "seconds": elapsed.as_secs_f64(),
        "frequency": o.frequency,
        "samples": samples,
        "folded": lines,
    }))
}

fn alloc(setup: fn() -> suite::Routine, o: &Opts) -> Result<Value, Failure> {
    let path = o.dhat_out.clone().unwrap_or_else(|| {
        std::env::temp_dir()
            .join(format!("zp-probe-dhat-{}.json", std::process::id()))
            .display()
            .to_string()
    });
    let iters = o.iters.unwrap_or(100);
    let profiler = dhat::Profiler::builder().file_name(&path).build();
    let mut routine = setup();
    let before = dhat::HeapStats::get();
    zp_probe_measured(&mut routine, iters);
    let after = dhat::HeapStats::get();
    drop(routine);
    drop(profiler);
    let per = |a: u64, b: u64| (a - b) as f64 / iters as f64;
    let sites = top_sites(&path).unwrap_or_default();
    if o.dhat_out.is_none() {
        let _ = std::fs::remove_file(&path);
    }
    Ok(json!({
        "iters": iters,
        "allocs_per_iter": per(after.total_blocks, before.total_blocks),
        "bytes_per_iter": per(after.total_bytes, before.total_bytes),
        "peak_live_bytes": after.max_bytes.saturating_sub(before.curr_bytes),
        "top_sites": sites,
        "dhat_file": o.dhat_out,
    }))
}

/// The allocation sites of a dhat-heap.json, most blocks first, with their
/// call stacks (zp frames and the frames just above them).
fn top_sites(path: &str) -> Option<Vec<Value>> {
    let v: Value = serde_json::from_str(&std::fs::read_to_string(path).ok()?).ok()?;
    let ftbl: Vec<&str> = v["ftbl"]
        .as_array()?
        .iter()
        .filter_map(Value::as_str)
        .collect();
    let mut sites: Vec<Value> = v["pps"]
        .as_array()?
        .iter()
        .map(|pp| {
            let frames: Vec<String> = pp["fs"]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(|i| ftbl.get(i.as_u64()? as usize))
                .map(|f| f.to_string())
                .filter(|f| !f.contains("dhat::") && !f.contains("alloc::alloc::"))
                .take(8)
                .collect();
            json!({ "blocks": pp["tbk"], "bytes": pp["tb"], "stack": frames })
        })
        .collect();
    sites.sort_by_key(|s| std::cmp::Reverse(s["blocks"].as_u64().unwrap_or(0)));
    sites.truncate(5);
    Some(sites)
}

fn callgrind(routine: &mut dyn FnMut(), o: &Opts) -> Result<Value, Failure> {
    let iters = o.iters.unwrap_or(10);
    if std::env::var_os("ZP_PROBE_IN_VALGRIND").is_some() {
        // Inside valgrind: just run the marked function.
        zp_probe_measured(routine, iters);
        return Ok(json!({ "iters": iters }));
    }
    let out = std::env::temp_dir().join(format!("zp-probe-callgrind-{}.out", std::process::id()));
    let exe = std::env::current_exe().map_err(|e| Failure::Unavailable(e.to_string()))?;
    let status = Command::new("valgrind")
        .arg("--tool=callgrind")
        .arg(format!("--callgrind-out-file={}", out.display()))
        .arg(format!("--toggle-collect=*{MARKER}*"))
        .arg(exe)
        .args([
            "run",
            &o.name,
            "--instrument",
            "callgrind",
            "--iters",
            &iters.to_string(),
        ])
        .env("ZP_PROBE_IN_VALGRIND", "1")
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
    Ok(json!({
        "iters": iters,
        "instructions_total": total,
        "instructions_per_iter": total as f64 / iters as f64,
        "marker": MARKER,
    }))
}
