//! The probe, from the workbench's side: one client for every command that
//! measures (`bench`, `bisect`, `flame`, `profile`, `doctor`), behind the
//! [`Probe`] trait so each can be tested with [`Fake`] instead of a built
//! binary. Requests and replies are `probe_protocol`'s types; a reply is
//! decoded strictly, checked (finite numbers, non-empty samples), and a
//! probe built at a commit too old to give a field is named as such.

use crate::process::{self, Stderr};
use anyhow::{Context, Result, bail};
use probe_protocol::{
    Alloc, Body, Callgrind, Counters, EXIT_UNAVAILABLE, EXIT_USAGE, Instrument, Listed, Pprof,
    Reply, Request, Time,
};
use std::path::{Path, PathBuf};
use std::process::Command;

/// What a measuring command needs of a probe.
pub trait Probe {
    /// What it was built from, for messages (`a1b2c3d4e5`, `working tree`).
    fn origin(&self) -> &str;
    /// The benchmarks it has (`probe --list`).
    fn list(&mut self) -> Result<Vec<Listed>>;
    /// One request, answered and checked.
    fn call(&mut self, req: &Request) -> Result<Reply>;
    /// `iters` iterations of `bench` under `valgrind --tool=callgrind`
    /// with `options`, collecting only inside the probe's marked function:
    /// the text of callgrind's output file (`measure::exact` reads it).
    fn callgrind_out(&mut self, bench: &str, iters: u64, options: &[String]) -> Result<String> {
        let _ = (bench, iters, options);
        bail!(Unavailable(format!(
            "the probe at {} cannot be run under valgrind",
            self.origin()
        )))
    }
}

crate::message_error!(
    /// The probe cannot provide the instrument here (no valgrind, no perf
    /// access): its exit code 3.
    Unavailable
);

crate::message_error!(
    /// The probe's reply lacks a field this workbench needs: it was built
    /// at a commit older than the field.
    TooOld
);

/// A built probe executable.
#[derive(Debug, Clone)]
pub struct Process {
    pub exe: PathBuf,
    /// Where it runs; the probe reads no files, but relative paths stay here.
    pub dir: PathBuf,
    pub origin: String,
}

impl Process {
    pub fn new(exe: &Path, dir: &Path, origin: &str) -> Process {
        Process {
            exe: exe.to_path_buf(),
            dir: dir.to_path_buf(),
            origin: origin.to_string(),
        }
    }

    /// The fingerprint of its binary (the build cache's, for the same
    /// bytes): the key its exact measurements are cached under.
    pub fn fingerprint(&self) -> Result<String> {
        let bytes = std::fs::read(&self.exe)
            .with_context(|| format!("cannot read the probe {}", self.exe.display()))?;
        Ok(crate::host::fingerprint_of(&bytes))
    }

    fn command(&self) -> Command {
        let mut c = Command::new(&self.exe);
        c.current_dir(&self.dir);
        c
    }
}

impl Probe for Process {
    fn origin(&self) -> &str {
        &self.origin
    }

    fn list(&mut self) -> Result<Vec<Listed>> {
        let out = process::output(self.command().arg("--list"), Stderr::Capture)?;
        if !out.status.success() {
            bail!(
                "the probe at {} cannot list its benchmarks ({}): {}",
                self.origin,
                out.status,
                process::last_lines(&out.stderr, 3)
            );
        }
        Ok(probe_protocol::parse_list(&String::from_utf8_lossy(
            &out.stdout,
        )))
    }

    fn call(&mut self, req: &Request) -> Result<Reply> {
        let args = req.to_args();
        let out = process::output(self.command().args(&args), Stderr::Capture)?;
        let what = || format!("probe {} (at {})", args.join(" "), self.origin);
        if !out.status.success() {
            let why = process::last_lines(&out.stderr, 3);
            match out.status.code() {
                Some(c) if c == i32::from(EXIT_UNAVAILABLE) => {
                    bail!(Unavailable(format!("{}: {why}", what())))
                }
                Some(c) if c == i32::from(EXIT_USAGE) => {
                    bail!("{} refused the request: {why}", what())
                }
                _ => bail!("{} failed ({}): {why}", what(), out.status),
            }
        }
        decode(&out.stdout).with_context(what)
    }

    fn callgrind_out(&mut self, bench: &str, iters: u64, options: &[String]) -> Result<String> {
        let dir = tempfile::tempdir().context("cannot create a folder for callgrind's output")?;
        let file = dir.path().join("callgrind.out");
        let inner = Request {
            bench: bench.into(),
            instrument: Instrument::Callgrind { iters },
        };
        let mut cmd = Command::new("valgrind");
        cmd.current_dir(&self.dir)
            .arg("--tool=callgrind")
            .arg(format!("--callgrind-out-file={}", file.display()))
            .arg(format!("--toggle-collect=*{}*", probe_protocol::MARKER))
            .args(options)
            .arg(&self.exe)
            .args(inner.to_args())
            .env(probe_protocol::IN_VALGRIND, "1");
        let out = match process::output(&mut cmd, Stderr::Capture) {
            Ok(out) => out,
            Err(e)
                if e.downcast_ref::<std::io::Error>()
                    .is_some_and(|io| io.kind() == std::io::ErrorKind::NotFound) =>
            {
                bail!(Unavailable(
                    "valgrind is not installed (scripts/install-tools.sh installs it)".into()
                ))
            }
            Err(e) => return Err(e),
        };
        if !out.status.success() {
            bail!(
                "valgrind --tool=callgrind on the probe at {} failed ({}): {}",
                self.origin,
                out.status,
                process::last_lines(&out.stderr, 3)
            );
        }
        std::fs::read_to_string(&file)
            .with_context(|| format!("callgrind wrote no output for {bench} at {}", self.origin))
    }
}

/// The fields every reply carries; the body is decoded by its tag.
#[derive(serde::Deserialize)]
struct Envelope {
    #[serde(default = "first_protocol")]
    protocol: u32,
    benchmark: String,
    category: String,
    instrument: String,
}

fn first_protocol() -> u32 {
    1
}

/// Decodes and checks a reply. A missing field means the probe predates
/// it ([`TooOld`]); any other problem names the field.
pub fn decode(stdout: &[u8]) -> Result<Reply> {
    let value: serde_json::Value = serde_json::from_slice(stdout)
        .map_err(|e| anyhow::anyhow!("the probe printed no valid reply: {e}"))?;
    let envelope: Envelope = field_error(serde_path_to_error::deserialize(&value))?;
    fn body<T: serde::de::DeserializeOwned>(v: &serde_json::Value) -> Result<T> {
        field_error(serde_path_to_error::deserialize(v))
    }
    let body = match envelope.instrument.as_str() {
        "time" => Body::Time(body(&value)?),
        "counters" => Body::Counters(body(&value)?),
        "pprof" => Body::Pprof(body(&value)?),
        "alloc" => Body::Alloc(body(&value)?),
        "callgrind" => Body::Callgrind(body(&value)?),
        "bytes" => Body::Bytes(body(&value)?),
        other => bail!("the probe answered with an unknown instrument `{other}`"),
    };
    let reply = Reply {
        protocol: envelope.protocol,
        benchmark: envelope.benchmark,
        category: envelope.category,
        body,
    };
    reply
        .check()
        .map_err(|e| anyhow::anyhow!("the probe's reply is invalid: {e}"))?;
    Ok(reply)
}

fn field_error<T>(
    r: std::result::Result<T, serde_path_to_error::Error<serde_json::Error>>,
) -> Result<T> {
    r.map_err(|e| {
        let inner = e.inner().to_string();
        match inner
            .strip_prefix("missing field `")
            .and_then(|r| r.split('`').next())
        {
            Some(field) => anyhow::Error::new(TooOld(format!(
                "the probe is too old for this workbench: its reply has no `{field}`; measure a newer commit"
            ))),
            None => anyhow::anyhow!("the probe's reply is invalid at `{}`: {inner}", e.path()),
        }
    })
}

fn expect<T>(reply: Reply, want: &str, pick: impl FnOnce(Body) -> Option<T>) -> Result<T> {
    let got = reply.body.name();
    pick(reply.body).with_context(|| {
        format!(
            "asked `{}` for a {want} measurement, the probe answered with {got}",
            reply.benchmark
        )
    })
}

/// Per-iteration times of `samples` samples.
pub fn time(p: &mut dyn Probe, bench: &str, samples: u32) -> Result<Time> {
    let r = p.call(&Request {
        bench: bench.into(),
        instrument: Instrument::Time {
            samples,
            iters: None,
        },
    })?;
    expect(r, "time", |b| match b {
        Body::Time(t) => Some(t),
        _ => None,
    })
}

/// The exact instruction count under callgrind.
pub fn callgrind(p: &mut dyn Probe, bench: &str, iters: u64) -> Result<Callgrind> {
    let r = p.call(&Request {
        bench: bench.into(),
        instrument: Instrument::Callgrind { iters },
    })?;
    expect(r, "callgrind", |b| match b {
        Body::Callgrind(c) => Some(c),
        _ => None,
    })
}

/// pprof samples over `seconds`, at `frequency` Hz.
pub fn pprof(p: &mut dyn Probe, bench: &str, seconds: f64, frequency: u32) -> Result<Pprof> {
    let r = p.call(&Request {
        bench: bench.into(),
        instrument: Instrument::Pprof { seconds, frequency },
    })?;
    expect(r, "pprof", |b| match b {
        Body::Pprof(x) => Some(x),
        _ => None,
    })
}

/// dhat's heap statistics over `iters` iterations.
pub fn alloc(p: &mut dyn Probe, bench: &str, iters: u64, dhat_out: Option<&Path>) -> Result<Alloc> {
    let r = p.call(&Request {
        bench: bench.into(),
        instrument: Instrument::Alloc {
            iters,
            dhat_out: dhat_out.map(|d| d.to_string_lossy().into_owned()),
        },
    })?;
    expect(r, "alloc", |b| match b {
        Body::Alloc(a) => Some(a),
        _ => None,
    })
}

/// perf-event counters per iteration (`iters` calibrated when `None`).
pub fn counters(p: &mut dyn Probe, bench: &str, iters: Option<u64>) -> Result<Counters> {
    let r = p.call(&Request {
        bench: bench.into(),
        instrument: Instrument::Counters { iters },
    })?;
    expect(r, "counters", |b| match b {
        Body::Counters(c) => Some(c),
        _ => None,
    })
}

/// A memory benchmark's size.
pub fn bytes(p: &mut dyn Probe, bench: &str) -> Result<u64> {
    let r = p.call(&Request {
        bench: bench.into(),
        instrument: Instrument::Time {
            samples: 1,
            iters: None,
        },
    })?;
    expect(r, "size", |b| match b {
        Body::Bytes(b) => Some(b.bytes),
        _ => None,
    })
}

/// How a [`Fake`] answers a request.
#[cfg(test)]
pub type Answerer = Box<dyn FnMut(&Request) -> Result<Body>>;

/// How a [`Fake`] answers a callgrind run: the output file's text.
#[cfg(test)]
pub type CallgrindAnswerer = Box<dyn FnMut(&str, &[String]) -> Result<String>>;

/// A probe that answers from a closure, for tests of every command that
/// measures; it records the requests it was sent.
#[cfg(test)]
pub struct Fake {
    pub origin: String,
    pub listed: Vec<Listed>,
    pub answer: Answerer,
    pub calls: Vec<Request>,
    /// Answers `callgrind_out`, when set.
    pub callgrind: Option<CallgrindAnswerer>,
}

#[cfg(test)]
impl Fake {
    pub fn new(answer: impl FnMut(&Request) -> Result<Body> + 'static) -> Fake {
        let budgets = crate::fixtures::budgets();
        Fake {
            origin: "fake".into(),
            listed: budgets
                .benchmarks
                .iter()
                .map(|b| Listed {
                    name: b.name.clone(),
                    category: b.category.to_string(),
                })
                .collect(),
            answer: Box::new(answer),
            calls: Vec::new(),
            callgrind: None,
        }
    }

    /// Also answers callgrind runs, with `out(bench, options)`.
    pub fn with_callgrind(
        mut self,
        out: impl FnMut(&str, &[String]) -> Result<String> + 'static,
    ) -> Fake {
        self.callgrind = Some(Box::new(out));
        self
    }
}

#[cfg(test)]
impl Probe for Fake {
    fn origin(&self) -> &str {
        &self.origin
    }

    fn list(&mut self) -> Result<Vec<Listed>> {
        Ok(self.listed.clone())
    }

    fn call(&mut self, req: &Request) -> Result<Reply> {
        self.calls.push(req.clone());
        let body = (self.answer)(req)?;
        let category = self
            .listed
            .iter()
            .find(|l| l.name == req.bench)
            .map_or("datapath".to_string(), |l| l.category.clone());
        let reply = Reply {
            protocol: probe_protocol::PROTOCOL,
            benchmark: req.bench.clone(),
            category,
            body,
        };
        // Through the wire form, as a real reply would come.
        decode(&serde_json::to_vec(&reply)?)
    }

    fn callgrind_out(&mut self, bench: &str, _iters: u64, options: &[String]) -> Result<String> {
        match &mut self.callgrind {
            Some(f) => f(bench, options),
            None => bail!(Unavailable("this fake probe has no callgrind".into())),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn replies_are_decoded_strictly_and_old_ones_named() {
        let ok = br#"{"benchmark":"x","category":"datapath","instrument":"callgrind","iters":10,"instructions_total":100,"instructions_per_iter":10.0,"marker":"m"}"#;
        assert!(matches!(decode(ok).unwrap().body, Body::Callgrind(_)));
        let old = br#"{"benchmark":"x","category":"datapath","instrument":"pprof","iters":10,"frequency":250,"samples":1,"folded":[]}"#;
        let err = decode(old).unwrap_err();
        assert!(
            err.is::<TooOld>() && err.to_string().contains("has no `seconds`"),
            "{err}"
        );
        let nan_like = br#"{"benchmark":"x","category":"datapath","instrument":"time","iters_per_sample":1,"samples_ns":[]}"#;
        let err = decode(nan_like).unwrap_err().to_string();
        assert!(err.contains("`samples_ns` is empty"), "{err}");
        let wrong = br#"{"benchmark":"x","category":"datapath","instrument":"time","iters_per_sample":"many","samples_ns":[1.0]}"#;
        let err = decode(wrong).unwrap_err().to_string();
        assert!(err.contains("iters_per_sample"), "{err}");
        assert!(
            decode(b"probe: oops")
                .unwrap_err()
                .to_string()
                .contains("no valid reply")
        );
    }

    #[test]
    fn a_reply_of_the_wrong_kind_is_an_error() {
        let mut f = Fake::new(|_| Ok(Body::Bytes(probe_protocol::Bytes { bytes: 3 })));
        let err = time(&mut f, "encrypt_record_64k", 10).unwrap_err();
        assert!(err.to_string().contains("answered with bytes"), "{err}");
        assert_eq!(bytes(&mut f, "connection_state_size").unwrap(), 3);
        assert_eq!(f.calls.len(), 2);
    }
}
