//! The boundary between the workbench (`cargo xtask`) and zp's probe (the
//! `probe` bench target): what the workbench asks for, and what the probe
//! answers. Both sides use these types, so a request is never a hand-built
//! argument list and a reply never untyped JSON.
//!
//! The workbench builds the probe from zp at whatever commit it examines,
//! including commits older than this crate, so the wire form stays the one
//! every probe has understood: a request is the command line
//! `run NAME --instrument I [--iters N] [--samples K] [--seconds S]
//! [--frequency HZ] [--dhat-out PATH]`, and a reply is one JSON object on
//! stdout, tagged by its `instrument`. Fields added after the first probe
//! are optional and decode as `None`; a reply that lacks a field without a
//! meaningful default is refused by the decoder as "too old", never read as
//! NaN or zero.

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// The four categories of the benchmark requirements. Defined once, here:
/// zp's benchmark registry, the miniature zp of the workbench's tests and
/// the workbench's budgets all use this type. On the wire (`probe --list`,
/// `budgets.toml`) it is the lower-case name.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Category {
    /// The primitives: key exchange, KEM, AEAD, KDF.
    Crypto,
    /// Whole handshakes and resumption.
    Handshake,
    /// Records and frames.
    Datapath,
    /// Sizes in bytes, not times.
    Memory,
}

impl Category {
    /// Every category, in the requirements' order.
    pub const ALL: [Category; 4] = [
        Category::Crypto,
        Category::Handshake,
        Category::Datapath,
        Category::Memory,
    ];

    /// The lower-case name.
    pub fn as_str(self) -> &'static str {
        match self {
            Category::Crypto => "crypto",
            Category::Handshake => "handshake",
            Category::Datapath => "datapath",
            Category::Memory => "memory",
        }
    }

    /// The criterion bench target that measures this category (memory has
    /// none: its benchmarks are byte counts from the probe).
    pub fn criterion_target(self) -> Option<&'static str> {
        match self {
            Category::Memory => None,
            c => Some(c.as_str()),
        }
    }
}

impl std::fmt::Display for Category {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Version of the replies. Probes built before the field existed print
/// none and decode as version 1; version 2 added [`Pprof::samples_total`]
/// and [`Pprof::cpu_seconds`]; version 3 [`Time::cpu_ns`] and
/// [`Time::wait_ns`].
pub const PROTOCOL: u32 = 3;

/// The function whose instructions callgrind counts: the probe runs the
/// routine's iterations inside it, never inlined, so
/// `valgrind --tool=callgrind --toggle-collect=*zp_probe_measured*`
/// collects exactly the measured iterations.
pub const MARKER: &str = "zp_probe_measured";
/// Set in the environment of a probe run under valgrind: with the
/// callgrind instrument it then only runs the marked function and prints
/// nothing, leaving the counting to whoever started valgrind (the probe
/// itself for its instruction count, the workbench for per-function costs
/// and cache simulation). Every probe with a callgrind instrument honours
/// it.
pub const IN_VALGRIND: &str = "ZP_PROBE_IN_VALGRIND";

/// The probe's exit code for bad usage (an unknown benchmark or instrument).
pub const EXIT_USAGE: u8 = 2;
/// The probe's exit code for an instrument this machine cannot provide.
pub const EXIT_UNAVAILABLE: u8 = 3;

/// Samples of the time instrument when none are asked for.
pub const DEFAULT_SAMPLES: u32 = 20;
/// Seconds of pprof sampling when none are asked for.
pub const DEFAULT_SECONDS: f64 = 10.0;
/// pprof's sampling rate when none is asked for: kernels with HZ = 250
/// deliver no more (DESIGN.md, "Pitfalls").
pub const DEFAULT_FREQUENCY: u32 = 250;
/// Iterations under dhat when none are asked for.
pub const DEFAULT_ALLOC_ITERS: u64 = 100;
/// Iterations under callgrind when none are asked for.
pub const DEFAULT_CALLGRIND_ITERS: u64 = 10;

/// How the probe measures a benchmark's routine.
#[derive(Debug, Clone, PartialEq)]
pub enum Instrument {
    /// Per-iteration wall time of `samples` samples, each of `iters`
    /// iterations (calibrated to about 10 ms when `None`). Memory benchmarks
    /// answer any instrument with their size, and are asked with this one.
    Time {
        /// Samples to take.
        samples: u32,
        /// Iterations per sample; calibrated when `None`.
        iters: Option<u64>,
    },
    /// perf-event counters per iteration (hardware where the kernel exposes
    /// a PMU, software otherwise), over `iters` iterations.
    Counters {
        /// Iterations; calibrated to about 200 ms when `None`.
        iters: Option<u64>,
    },
    /// pprof's sampled stacks over `seconds`, at `frequency` Hz.
    Pprof {
        /// How long to sample.
        seconds: f64,
        /// Samples per second asked of the kernel timer.
        frequency: u32,
    },
    /// dhat's heap statistics over `iters` iterations, optionally written to
    /// a dhat-heap JSON file.
    Alloc {
        /// Iterations.
        iters: u64,
        /// Where to write dhat's profile (viewable in DHAT's viewer).
        dhat_out: Option<String>,
    },
    /// callgrind's exact instruction count over `iters` iterations.
    Callgrind {
        /// Iterations.
        iters: u64,
    },
}

impl Instrument {
    /// The instruments' names on the command line, in their order.
    pub const NAMES: [&'static str; 5] = ["time", "counters", "pprof", "alloc", "callgrind"];

    /// The name on the command line and in replies.
    pub fn name(&self) -> &'static str {
        match self {
            Instrument::Time { .. } => "time",
            Instrument::Counters { .. } => "counters",
            Instrument::Pprof { .. } => "pprof",
            Instrument::Alloc { .. } => "alloc",
            Instrument::Callgrind { .. } => "callgrind",
        }
    }
}

/// One run of one benchmark under one instrument.
#[derive(Debug, Clone, PartialEq)]
pub struct Request {
    /// The benchmark's name in the registry (`encrypt_record_64k`).
    pub bench: String,
    /// How to measure it.
    pub instrument: Instrument,
}

impl Request {
    /// The probe's command line for this request (without the program).
    pub fn to_args(&self) -> Vec<String> {
        let mut a: Vec<String> = vec![
            "run".into(),
            self.bench.clone(),
            "--instrument".into(),
            self.instrument.name().into(),
        ];
        let mut push = |flag: &str, value: String| {
            a.push(flag.into());
            a.push(value);
        };
        match &self.instrument {
            Instrument::Time { samples, iters } => {
                push("--samples", samples.to_string());
                if let Some(n) = iters {
                    push("--iters", n.to_string());
                }
            }
            Instrument::Counters { iters } => {
                if let Some(n) = iters {
                    push("--iters", n.to_string());
                }
            }
            Instrument::Pprof { seconds, frequency } => {
                push("--seconds", seconds.to_string());
                push("--frequency", frequency.to_string());
            }
            Instrument::Alloc { iters, dhat_out } => {
                push("--iters", iters.to_string());
                if let Some(p) = dhat_out {
                    push("--dhat-out", p.clone());
                }
            }
            Instrument::Callgrind { iters } => push("--iters", iters.to_string()),
        }
        a
    }

    /// Parses the arguments after `run`: `NAME --instrument I [flags]`.
    /// Every flag must belong to the instrument and every number must be
    /// positive; the error says which is wrong.
    pub fn parse(args: &[String]) -> Result<Request, String> {
        let mut it = args.iter();
        let bench = it.next().ok_or("no benchmark named")?.clone();
        if bench.starts_with('-') {
            return Err(format!("expected a benchmark name, found `{bench}`"));
        }
        let mut flags: BTreeMap<&str, &str> = BTreeMap::new();
        while let Some(flag) = it.next() {
            let known = [
                "--instrument",
                "--iters",
                "--samples",
                "--seconds",
                "--frequency",
                "--dhat-out",
            ];
            let Some(flag) = known.iter().find(|k| **k == flag.as_str()) else {
                return Err(format!("unknown flag `{flag}`"));
            };
            let value = it.next().ok_or_else(|| format!("{flag} needs a value"))?;
            if flags.insert(flag, value).is_some() {
                return Err(format!("{flag} given twice"));
            }
        }
        let name = flags.remove("--instrument").unwrap_or("time");
        let mut take = |flag: &str| flags.remove(flag);
        let whole = |flag: &str, v: Option<&str>| -> Result<Option<u64>, String> {
            v.map(|v| match v.parse::<u64>() {
                Ok(n) if n >= 1 => Ok(n),
                _ => Err(format!(
                    "{flag} takes a whole number of at least 1, not `{v}`"
                )),
            })
            .transpose()
        };
        let instrument = match name {
            "time" => Instrument::Time {
                samples: whole("--samples", take("--samples"))?
                    .map_or(DEFAULT_SAMPLES, |n| n.min(u64::from(u32::MAX)) as u32),
                iters: whole("--iters", take("--iters"))?,
            },
            "counters" => Instrument::Counters {
                iters: whole("--iters", take("--iters"))?,
            },
            "pprof" => {
                let seconds = match take("--seconds") {
                    None => DEFAULT_SECONDS,
                    Some(v) => match v.parse::<f64>() {
                        Ok(s) if s.is_finite() && s > 0.0 => s,
                        _ => return Err(format!("--seconds takes a positive number, not `{v}`")),
                    },
                };
                let frequency = whole("--frequency", take("--frequency"))?
                    .map_or(DEFAULT_FREQUENCY, |f| f.min(10_000) as u32);
                Instrument::Pprof { seconds, frequency }
            }
            "alloc" => Instrument::Alloc {
                iters: whole("--iters", take("--iters"))?.unwrap_or(DEFAULT_ALLOC_ITERS),
                dhat_out: take("--dhat-out").map(String::from),
            },
            "callgrind" => Instrument::Callgrind {
                iters: whole("--iters", take("--iters"))?.unwrap_or(DEFAULT_CALLGRIND_ITERS),
            },
            other => {
                return Err(format!(
                    "unknown instrument `{other}`; valid: {}",
                    Instrument::NAMES.join(", ")
                ));
            }
        };
        if let Some(flag) = flags.keys().next() {
            return Err(format!("{flag} does not apply to the {name} instrument"));
        }
        Ok(Request { bench, instrument })
    }
}

/// What the probe prints for one request.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Reply {
    /// The probe's protocol version ([`PROTOCOL`]); 1 when absent.
    #[serde(default = "first_protocol")]
    pub protocol: u32,
    /// The benchmark measured.
    pub benchmark: String,
    /// Its category in the probe's registry.
    pub category: String,
    /// The measurement, tagged by `instrument`.
    #[serde(flatten)]
    pub body: Body,
}

fn first_protocol() -> u32 {
    1
}

/// A measurement, by instrument (`bytes` for memory benchmarks).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "instrument", rename_all = "lowercase")]
pub enum Body {
    /// See [`Instrument::Time`].
    Time(Time),
    /// See [`Instrument::Counters`].
    Counters(Counters),
    /// See [`Instrument::Pprof`].
    Pprof(Pprof),
    /// See [`Instrument::Alloc`].
    Alloc(Alloc),
    /// See [`Instrument::Callgrind`].
    Callgrind(Callgrind),
    /// A memory benchmark's size, whatever the instrument asked.
    Bytes(Bytes),
}

impl Body {
    /// The instrument's name, as tagged on the wire.
    pub fn name(&self) -> &'static str {
        match self {
            Body::Time(_) => "time",
            Body::Counters(_) => "counters",
            Body::Pprof(_) => "pprof",
            Body::Alloc(_) => "alloc",
            Body::Callgrind(_) => "callgrind",
            Body::Bytes(_) => "bytes",
        }
    }
}

/// Per-iteration times.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Time {
    /// Iterations in each sample.
    pub iters_per_sample: u64,
    /// Each sample's wall time divided by its iterations, in nanoseconds.
    pub samples_ns: Vec<f64>,
    /// Each sample's CPU time of the measuring thread divided by its
    /// iterations, in nanoseconds (protocol 3, where perf events allow the
    /// thread's task clock).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cpu_ns: Option<Vec<f64>>,
    /// Each sample's time spent runnable but waiting for a CPU, divided by
    /// its iterations, in nanoseconds (protocol 3, where the kernel exposes
    /// `/proc/thread-self/schedstat`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub wait_ns: Option<Vec<f64>>,
}

/// perf-event counters per iteration.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Counters {
    /// Iterations counted.
    pub iters: u64,
    /// Counter name → count per iteration (`task_clock_ns` is nanoseconds).
    pub per_iter: BTreeMap<String, f64>,
    /// Events the kernel refused, with its reason.
    #[serde(default)]
    pub unavailable: Vec<Unavailable>,
}

/// A counter that could not be read.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Unavailable {
    /// The counter's name.
    pub event: String,
    /// Why (the kernel's error).
    pub reason: String,
}

/// Sampled stacks.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Pprof {
    /// Iterations run while sampling.
    pub iters: u64,
    /// Wall time of the sampling, in seconds.
    pub seconds: f64,
    /// Samples per second asked for.
    pub frequency: u32,
    /// Samples inside the measured routine (the folded lines' total).
    pub samples: u64,
    /// Folded stacks, root first: `a;b;c count`.
    pub folded: Vec<String>,
    /// Every sample taken, inside the routine or not (protocol 2).
    #[serde(default)]
    pub samples_total: Option<u64>,
    /// CPU time the sampled thread used while sampling (protocol 2).
    #[serde(default)]
    pub cpu_seconds: Option<f64>,
}

/// Heap activity under dhat.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Alloc {
    /// Iterations run under dhat.
    pub iters: u64,
    /// Allocations per iteration.
    pub allocs_per_iter: f64,
    /// Bytes allocated per iteration.
    pub bytes_per_iter: f64,
    /// Most bytes live at once during the iterations, beyond what setup left.
    pub peak_live_bytes: u64,
    /// The busiest allocation sites over the whole run, most blocks first.
    #[serde(default)]
    pub top_sites: Vec<Site>,
    /// Where dhat's profile was written, if asked.
    #[serde(default)]
    pub dhat_file: Option<String>,
}

/// An allocation site and its call stack.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Site {
    /// Blocks allocated there.
    pub blocks: u64,
    /// Bytes allocated there.
    pub bytes: u64,
    /// Frames, innermost first.
    pub stack: Vec<String>,
}

/// An exact instruction count.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Callgrind {
    /// Iterations counted.
    pub iters: u64,
    /// Instructions executed inside the measured routine, all iterations.
    pub instructions_total: u64,
    /// `instructions_total / iters`.
    pub instructions_per_iter: f64,
}

/// A memory benchmark's measured size.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Bytes {
    /// Bytes.
    pub bytes: u64,
}

impl Reply {
    /// Checks what the types cannot: numbers are finite and positive where
    /// they must be, and lists are not empty where a figure is derived from
    /// them. The error names the field.
    pub fn check(&self) -> Result<(), String> {
        let finite = |field: &str, v: f64, positive: bool| {
            if !v.is_finite() || v < 0.0 || (positive && v == 0.0) {
                Err(format!(
                    "`{field}` is {v}, not a {} number",
                    if positive { "positive" } else { "non-negative" }
                ))
            } else {
                Ok(())
            }
        };
        match &self.body {
            Body::Time(t) => {
                if t.samples_ns.is_empty() {
                    return Err("`samples_ns` is empty".into());
                }
                for (i, s) in t.samples_ns.iter().enumerate() {
                    finite(&format!("samples_ns[{i}]"), *s, true)?;
                }
                for (field, values) in [("cpu_ns", &t.cpu_ns), ("wait_ns", &t.wait_ns)] {
                    let Some(values) = values else { continue };
                    if values.len() != t.samples_ns.len() {
                        return Err(format!(
                            "`{field}` has {} values for {} samples",
                            values.len(),
                            t.samples_ns.len()
                        ));
                    }
                    for (i, v) in values.iter().enumerate() {
                        finite(&format!("{field}[{i}]"), *v, false)?;
                    }
                }
            }
            Body::Counters(c) => {
                for (k, v) in &c.per_iter {
                    finite(&format!("per_iter.{k}"), *v, false)?;
                }
            }
            Body::Pprof(p) => {
                finite("seconds", p.seconds, true)?;
                if p.iters == 0 {
                    return Err("`iters` is 0".into());
                }
                if let Some(c) = p.cpu_seconds {
                    finite("cpu_seconds", c, false)?;
                }
            }
            Body::Alloc(a) => {
                finite("allocs_per_iter", a.allocs_per_iter, false)?;
                finite("bytes_per_iter", a.bytes_per_iter, false)?;
            }
            Body::Callgrind(c) => {
                finite("instructions_per_iter", c.instructions_per_iter, true)?;
            }
            Body::Bytes(_) => {}
        }
        Ok(())
    }
}

/// A benchmark as `probe --list` names it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Listed {
    /// Its name.
    pub name: String,
    /// Its category (`crypto`, `handshake`, `datapath`, `memory`).
    pub category: String,
}

/// One line of `probe --list`.
pub fn list_line(name: &str, category: &str) -> String {
    format!("{name:<30} {category}")
}

/// Reads `probe --list`: one `name category` per line.
pub fn parse_list(text: &str) -> Vec<Listed> {
    text.lines()
        .filter_map(|l| {
            let mut words = l.split_whitespace();
            Some(Listed {
                name: words.next()?.to_string(),
                category: words.next().unwrap_or("").to_string(),
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(s: &str) -> Vec<String> {
        s.split_whitespace().map(String::from).collect()
    }

    #[test]
    fn every_request_round_trips_through_the_command_line() {
        let all = [
            Instrument::Time {
                samples: 10,
                iters: None,
            },
            Instrument::Time {
                samples: 3,
                iters: Some(1000),
            },
            Instrument::Counters { iters: None },
            Instrument::Counters { iters: Some(7) },
            Instrument::Pprof {
                seconds: 2.5,
                frequency: 250,
            },
            Instrument::Alloc {
                iters: 100,
                dhat_out: Some("/tmp/d.json".into()),
            },
            Instrument::Alloc {
                iters: 10,
                dhat_out: None,
            },
            Instrument::Callgrind { iters: 10 },
        ];
        for instrument in all {
            let r = Request {
                bench: "encrypt_record_64k".into(),
                instrument,
            };
            let a = r.to_args();
            assert_eq!(a[0], "run");
            assert_eq!(Request::parse(&a[1..]).unwrap(), r, "{a:?}");
        }
    }

    #[test]
    fn the_first_probes_command_lines_still_parse() {
        // What xtask sent before this crate existed.
        let r =
            Request::parse(&args("encrypt_record_1k --instrument callgrind --iters 10")).unwrap();
        assert_eq!(r.instrument, Instrument::Callgrind { iters: 10 });
        let r = Request::parse(&args("x --instrument time --samples 10")).unwrap();
        assert_eq!(
            r.instrument,
            Instrument::Time {
                samples: 10,
                iters: None
            }
        );
        let r = Request::parse(&args("x")).unwrap();
        assert_eq!(r.instrument.name(), "time");
    }

    #[test]
    fn bad_requests_say_what_is_wrong() {
        let err = |s: &str| Request::parse(&args(s)).unwrap_err();
        assert!(err("").contains("no benchmark"));
        assert!(err("x --instrument cycles").contains("unknown instrument `cycles`"));
        assert!(err("x --iters 0").contains("at least 1"));
        assert!(err("x --instrument pprof --seconds -1").contains("positive number"));
        assert!(err("x --instrument pprof --seconds NaN").contains("positive number"));
        assert!(err("x --samples").contains("needs a value"));
        assert!(err("x --bogus 1").contains("unknown flag"));
        assert!(err("x --instrument callgrind --seconds 3").contains("does not apply"));
        assert!(err("x --iters 1 --iters 2").contains("twice"));
    }

    #[test]
    fn replies_of_the_first_probe_decode_and_new_fields_default() {
        // Printed by the probe at effbd5a (before `protocol` existed).
        let old = r#"{"benchmark":"parse_frame","category":"datapath","instrument":"pprof","iters":10,"seconds":1.0,"frequency":250,"samples":240,"folded":["zp_probe_measured;zp::frame::parse 240"]}"#;
        let r: Reply = serde_json::from_str(old).unwrap();
        assert_eq!(r.protocol, 1);
        let Body::Pprof(p) = &r.body else {
            panic!("{r:?}")
        };
        assert_eq!(
            (p.samples, p.samples_total, p.cpu_seconds),
            (240, None, None)
        );
        r.check().unwrap();

        let bytes = r#"{"benchmark":"connection_state_size","category":"memory","instrument":"bytes","bytes":544}"#;
        let r: Reply = serde_json::from_str(bytes).unwrap();
        assert_eq!(r.body, Body::Bytes(Bytes { bytes: 544 }));

        // A reply without `seconds` cannot give a time per iteration.
        let lacking = r#"{"benchmark":"x","category":"datapath","instrument":"pprof","iters":10,"frequency":250,"samples":1,"folded":[]}"#;
        let e = serde_json::from_str::<Reply>(lacking)
            .unwrap_err()
            .to_string();
        assert!(e.contains("missing field `seconds`"), "{e}");
    }

    #[test]
    fn replies_round_trip_and_checks_name_the_field() {
        let r = Reply {
            protocol: PROTOCOL,
            benchmark: "x".into(),
            category: "crypto".into(),
            body: Body::Time(Time {
                iters_per_sample: 100,
                samples_ns: vec![1.0, 2.0],
                cpu_ns: Some(vec![0.9, 1.5]),
                wait_ns: Some(vec![0.0, 0.4]),
            }),
        };
        let text = serde_json::to_string(&r).unwrap();
        assert!(text.contains(r#""instrument":"time""#), "{text}");
        assert_eq!(serde_json::from_str::<Reply>(&text).unwrap(), r);
        let mut bad = r.clone();
        bad.body = Body::Time(Time {
            iters_per_sample: 1,
            samples_ns: vec![],
            cpu_ns: None,
            wait_ns: None,
        });
        assert_eq!(bad.check().unwrap_err(), "`samples_ns` is empty");
        bad.body = Body::Time(Time {
            iters_per_sample: 1,
            samples_ns: vec![1.0, 2.0],
            cpu_ns: Some(vec![1.0]),
            wait_ns: None,
        });
        assert_eq!(
            bad.check().unwrap_err(),
            "`cpu_ns` has 1 values for 2 samples"
        );
        // A protocol 2 reply has neither.
        let old = r#"{"protocol":2,"benchmark":"x","category":"crypto","instrument":"time","iters_per_sample":5,"samples_ns":[3.0]}"#;
        let r: Reply = serde_json::from_str(old).unwrap();
        assert!(matches!(
            r.body,
            Body::Time(Time {
                cpu_ns: None,
                wait_ns: None,
                ..
            })
        ));
        bad.body = Body::Callgrind(Callgrind {
            iters: 10,
            instructions_total: 0,
            instructions_per_iter: 0.0,
        });
        assert!(bad.check().unwrap_err().contains("instructions_per_iter"));
    }

    #[test]
    fn list_lines_round_trip() {
        let text = [
            list_line("x25519_dh", "crypto"),
            list_line("state_token_size", "memory"),
        ]
        .join("\n");
        assert_eq!(
            parse_list(&text),
            [
                Listed {
                    name: "x25519_dh".into(),
                    category: "crypto".into()
                },
                Listed {
                    name: "state_token_size".into(),
                    category: "memory".into()
                }
            ]
        );
    }
}
