//! Measuring a history: commits built one after another on one thread
//! while worker threads count the ones already built (instruction counts do
//! not depend on what else the machine does), then time alone, in rounds of
//! alternating direction.

use super::*;

/// What the measuring threads share.
pub(super) struct Plan<'a> {
    pub(super) commits: &'a [CommitInfo],
    /// Positions in `commits` this process measures.
    pub(super) mine: &'a [usize],
    pub(super) benches: &'a [Budget],
    pub(super) instructions: bool,
    pub(super) valgrind: String,
    pub(super) cpu_features: String,
    pub(super) fresh: bool,
    pub(super) workers: usize,
}

/// A built probe: its executable, fingerprint and benchmarks.
pub(super) struct Ready {
    pub(super) exe: PathBuf,
    pub(super) fingerprint: String,
    pub(super) listed: BTreeSet<String>,
}

/// One exact measurement for a worker.
pub(super) struct Task {
    pub(super) at: usize,
    pub(super) exe: PathBuf,
    pub(super) fingerprint: String,
    pub(super) bench: String,
    pub(super) kind: Kind,
}

pub(super) enum Event {
    Building(usize),
    Ready(usize, Ready),
    Skipped(usize, String),
    Value {
        at: usize,
        bench: String,
        kind: Kind,
        value: f64,
        cached: bool,
    },
    Failed {
        at: usize,
        bench: String,
        why: String,
    },
    BuilderDone {
        key: BuildKey,
        builds: usize,
        repaired: Vec<String>,
    },
    Fatal(anyhow::Error),
}

/// Builds the commits one after another while `plan.workers` threads
/// take their exact measurements; fills `out` and returns the probes.
pub(super) fn pipeline(
    ctx: &Ctx,
    plan: &Plan,
    opts: builds::Options,
    out: &mut History,
) -> Result<BTreeMap<usize, Ready>> {
    let exact_per_commit = plan
        .benches
        .iter()
        .filter(|b| b.category == Category::Memory || plan.instructions)
        .count();
    let progress = Progress::new(
        (plan.mine.len() * exact_per_commit.max(1)) as u64,
        "history",
    );
    let stop = AtomicBool::new(false);
    let (events, inbox) = mpsc::channel::<Event>();
    let (tasks, queue) = mpsc::channel::<Task>();
    let queue = Mutex::new(queue);
    let mut probes = BTreeMap::new();
    let mut fatal: Option<anyhow::Error> = None;
    let measurements_dir = ctx.store.cache().join("measurements");
    std::thread::scope(|s| {
        // The builder: one commit at a time, in order.
        let ev = events.clone();
        let stop_ref = &stop;
        s.spawn(move || {
            let result = (|| -> Result<()> {
                let repo = git::open(&ctx.root)?;
                let mut builder = Builder::new(ctx, &repo, opts)?;
                for &at in plan.mine {
                    if stop_ref.load(Ordering::Relaxed) {
                        break;
                    }
                    process::check()?;
                    let _ = ev.send(Event::Building(at));
                    let id = &plan.commits[at].id;
                    let binary = match builder.probe(id)? {
                        Built::Broken(why) => {
                            let _ = ev.send(Event::Skipped(at, why));
                            continue;
                        }
                        Built::Ready(b) => b,
                    };
                    let mut p = probe::Process::new(&binary.exe, &ctx.root, short(id));
                    let listed: BTreeSet<String> = match p.list() {
                        Ok(l) => l.into_iter().map(|l| l.name).collect(),
                        Err(e) => {
                            process::check()?;
                            let _ = ev.send(Event::Skipped(at, format!("{e:#}")));
                            continue;
                        }
                    };
                    for b in plan.benches {
                        let kind = if b.category == Category::Memory {
                            Kind::Bytes
                        } else if plan.instructions {
                            Kind::Instructions
                        } else {
                            continue;
                        };
                        if listed.contains(&b.name) {
                            let _ = tasks.send(Task {
                                at,
                                exe: binary.exe.clone(),
                                fingerprint: binary.fingerprint.clone(),
                                bench: b.name.clone(),
                                kind,
                            });
                        }
                    }
                    let _ = ev.send(Event::Ready(
                        at,
                        Ready {
                            exe: binary.exe,
                            fingerprint: binary.fingerprint,
                            listed,
                        },
                    ));
                }
                let _ = ev.send(Event::BuilderDone {
                    key: builder.key.clone(),
                    builds: builder.builds,
                    repaired: std::mem::take(&mut builder.repaired),
                });
                Ok(())
            })();
            drop(tasks);
            if let Err(e) = result {
                let _ = ev.send(Event::Fatal(e));
            }
        });
        // The measurers.
        for _ in 0..plan.workers.max(1) {
            let ev = events.clone();
            let queue = &queue;
            let stop_ref = &stop;
            let dir = measurements_dir.clone();
            s.spawn(move || {
                let mut cache = measurements::Cache::new(&dir);
                loop {
                    let task = queue.lock().expect("the queue's lock").recv();
                    let Ok(t) = task else { break };
                    if stop_ref.load(Ordering::Relaxed) {
                        continue;
                    }
                    let key = match t.kind {
                        Kind::Bytes => Key::bytes(&t.fingerprint, &t.bench),
                        _ => Key::instructions(
                            &t.fingerprint,
                            &t.bench,
                            &plan.valgrind,
                            &plan.cpu_features,
                        ),
                    };
                    let mut p =
                        probe::Process::new(&t.exe, &ctx.root, short(&plan.commits[t.at].id));
                    let event = match cache.exact(&key, &mut p, plan.fresh) {
                        Ok((value, cached)) => Event::Value {
                            at: t.at,
                            bench: t.bench,
                            kind: t.kind,
                            value,
                            cached,
                        },
                        Err(e) if process::check().is_err() => Event::Fatal(e),
                        Err(e) => Event::Failed {
                            at: t.at,
                            bench: t.bench,
                            why: format!("{e:#}"),
                        },
                    };
                    let _ = ev.send(event);
                }
                if !cache.repaired.is_empty() {
                    let _ = ev.send(Event::Failed {
                        at: usize::MAX,
                        bench: String::new(),
                        why: cache.repaired.join("; "),
                    });
                }
            });
        }
        drop(events);
        for event in inbox {
            match event {
                Event::Building(at) => progress.phase(&format!(
                    "building {} {}",
                    short(&plan.commits[at].id),
                    clip(&plan.commits[at].subject, 50)
                )),
                Event::Ready(at, r) => {
                    out.commits[at].measured = true;
                    out.commits[at].probe = Some(r.fingerprint.clone());
                    probes.insert(at, r);
                }
                Event::Skipped(at, why) => {
                    let why = why.lines().next().unwrap_or("").to_string();
                    progress.note(&format!(
                        "skipped {} {}: {why}",
                        short(&plan.commits[at].id),
                        clip(&plan.commits[at].subject, 50)
                    ));
                    out.commits[at].skipped = Some(why);
                    for _ in 0..exact_per_commit {
                        progress.inc();
                    }
                }
                Event::Value {
                    at,
                    bench,
                    kind,
                    value,
                    cached,
                } => {
                    if let Some(s) = out
                        .benches
                        .get_mut(&bench)
                        .and_then(|b| b.series.get_mut(&kind))
                    {
                        s[at] = Some(value);
                    }
                    if cached {
                        out.cost.cached += 1;
                    } else {
                        out.cost.measurements += 1;
                    }
                    progress.inc();
                }
                Event::Failed { at, bench, why } => {
                    let note = if at == usize::MAX {
                        format!("damaged cached measurements removed: {why}")
                    } else {
                        progress.inc();
                        format!(
                            "{bench} at {}: not measured: {why}",
                            short(&plan.commits[at].id)
                        )
                    };
                    progress.note(&note);
                    out.notes.push(note);
                }
                Event::BuilderDone {
                    key,
                    builds,
                    repaired,
                } => {
                    out.build_key = key;
                    out.cost.builds = builds;
                    out.notes.extend(
                        repaired
                            .into_iter()
                            .map(|r| format!("damaged build cache entry: {r}")),
                    );
                }
                Event::Fatal(e) => {
                    stop.store(true, Ordering::Relaxed);
                    if fatal.is_none() {
                        fatal = Some(e);
                    }
                }
            }
        }
    });
    progress.finish();
    if let Some(e) = fatal {
        return Err(e);
    }
    // Benchmarks a commit's probe lacks stay empty there (they did not
    // exist yet); nothing else is missing silently.
    Ok(probes)
}

/// Time, alone on the machine: rounds over the commits in alternating
/// direction (a drift of the machine then does not look like a step), each
/// an observation of the measurement layer; a commit's value is the median
/// of its rounds, and the load over all of them is kept with the history.
pub(super) fn time_pass(
    probes: &mut BTreeMap<usize, (Box<dyn Probe>, BTreeSet<String>)>,
    benches: &[Budget],
    out: &mut History,
) -> Result<()> {
    let timed: Vec<&Budget> = benches
        .iter()
        .filter(|b| b.category != Category::Memory)
        .collect();
    let order: Vec<usize> = probes.keys().copied().collect();
    let progress = Progress::new((TIME_ROUNDS * order.len()) as u64, "timing");
    let mut taken: BTreeMap<(usize, String), Vec<Observation>> = BTreeMap::new();
    for round in 0..TIME_ROUNDS {
        let pass: Vec<usize> = if round.is_multiple_of(2) {
            order.clone()
        } else {
            order.iter().rev().copied().collect()
        };
        for at in pass {
            let (p, listed) = probes.get_mut(&at).expect("a probe per commit");
            let origin = p.origin().to_string();
            progress.phase(&format!("round {} of {TIME_ROUNDS}: {origin}", round + 1));
            for b in &timed {
                if !listed.contains(&b.name) {
                    continue;
                }
                match crate::measure::time::observe(p.as_mut(), &b.name) {
                    Ok(o) => {
                        out.cost.measurements += 1;
                        taken.entry((at, b.name.clone())).or_default().push(o);
                    }
                    Err(e) => {
                        process::check()?;
                        let note = format!("{} at {origin}: not timed: {e:#}", b.name);
                        progress.note(&note);
                        out.notes.push(note);
                    }
                }
            }
            progress.inc();
        }
    }
    progress.finish();
    let all: Vec<Observation> = taken.values().flatten().copied().collect();
    out.time_load = Load::of(&all);
    // One clock for the whole series, so that steps are not clock changes.
    let clock = Clock::of(&all);
    for ((at, bench), obs) in taken {
        if let Some(s) = out
            .benches
            .get_mut(&bench)
            .and_then(|b| b.series.get_mut(&Kind::Time))
        {
            let values: Vec<f64> = obs.iter().map(|o| o.value(clock)).collect();
            s[at] = Some(median(&values));
        }
    }
    Ok(())
}
