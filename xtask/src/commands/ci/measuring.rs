//! Measuring base and head: instruction counts for every benchmark, then
//! paired rounds of time in random order, and the hotspot diff of what
//! failed.

use super::*;

/// How the gate measures.
pub struct Options {
    /// Paired time rounds per benchmark on a quiet machine (twice as many
    /// while it is busy).
    pub rounds: usize,
    pub valgrind: Option<String>,
    /// Also explain what fails or warns (hotspots, simulated counters).
    pub hotspots: bool,
}

/// What [`measure`] found.
pub struct Measured {
    pub rows: Vec<Row>,
    /// Paired time rounds taken (the most any benchmark got).
    pub rounds: usize,
    pub only_in_base: Vec<String>,
    pub only_in_head: Vec<String>,
    pub load: Option<Load>,
}

/// Measures every benchmark both probes have and `benches` selects, and
/// decides. With `exactly` and the probes' fingerprints, exact counts and
/// profiles are cached and reused.
pub fn measure(
    probes: &mut [&mut dyn Probe; 2],
    benches: &[&Budget],
    budgets: &crate::budgets::Budgets,
    opts: &Options,
    mut exactly: Option<(&mut Exactly, [String; 2])>,
) -> Result<Measured> {
    let listed: Vec<Vec<String>> = probes
        .iter_mut()
        .map(|p| Ok(p.list()?.into_iter().map(|l| l.name).collect()))
        .collect::<Result<_>>()?;
    let has = |side: usize, name: &str| listed[side].iter().any(|n| n == name);
    let common: Vec<&Budget> = benches
        .iter()
        .copied()
        .filter(|b| has(BASE, &b.name) && has(HEAD, &b.name))
        .collect();
    let only = |side: usize| -> Vec<String> {
        benches
            .iter()
            .filter(|b| has(side, &b.name) && !has(1 - side, &b.name))
            .map(|b| b.name.clone())
            .collect()
    };
    let (only_in_base, only_in_head) = (only(BASE), only(HEAD));
    if common.is_empty() {
        bail!(CannotCompare(
            "base and head have no benchmark in common".into()
        ));
    }
    let timed: Vec<&Budget> = common
        .iter()
        .copied()
        .filter(|b| b.category != Category::Memory)
        .collect();

    // Exact counts first: they decide.
    let mut instructions: BTreeMap<String, [f64; 2]> = BTreeMap::new();
    if let Some(tool) = &opts.valgrind {
        let progress = Progress::new((2 * timed.len()) as u64, "counting");
        for b in &timed {
            let mut pair = [0.0; 2];
            for side in [BASE, HEAD] {
                progress.phase(&format!("{} at {}", b.name, probes[side].origin()));
                pair[side] = match &mut exactly {
                    Some((ex, fps)) => {
                        let key = Key::instructions(&fps[side], &b.name, tool, &ex.cpu);
                        ex.cache.exact(&key, &mut *probes[side], false)?.0
                    }
                    None => {
                        probe::callgrind(&mut *probes[side], &b.name, CALLGRIND_ITERS)?
                            .instructions_per_iter
                    }
                };
                progress.inc();
            }
            instructions.insert(b.name.clone(), pair);
        }
        progress.finish();
    }

    // Time: paired rounds in random orders until each benchmark's
    // comparison decides, or its budget ends.
    let budget = RoundBudget {
        quiet: opts.rounds,
        busy: 2 * opts.rounds,
    };
    let mut rng = Rng::new(0x9a7e);
    let mut judged: BTreeMap<String, Opinion> = BTreeMap::new();
    let mut observed: Vec<Observation> = Vec::new();
    let mut clocks: Vec<Clock> = Vec::new();
    let progress = Progress::new(timed.len() as u64, "timing");
    for b in &timed {
        progress.phase(&format!("{} (base and head, paired rounds)", b.name));
        let t = budgets.thresholds(b.category);
        // Counts that rose past half the warning tier explain a slowdown.
        let explained = instructions
            .get(&b.name)
            .is_some_and(|[b, h]| h / b - 1.0 > t.warning / 2.0);
        let opinion = time_opinion(&mut rng, budget, t.warning, explained, &mut |side| {
            crate::measure::time::observe(&mut *probes[side], &b.name)
        })?;
        observed.extend(&opinion.observations);
        clocks.push(opinion.clock);
        judged.insert(b.name.clone(), opinion);
        progress.inc();
    }
    progress.finish();
    let mut load = Load::of(&observed);
    if let Some(l) = &mut load
        && clocks.contains(&Clock::Wall)
    {
        l.clock = Clock::Wall;
    }

    let mut rows = Vec::new();
    for b in &common {
        let t = budgets.thresholds(b.category);
        let time = judged.get(&b.name);
        let mut row = Row {
            name: b.name.clone(),
            category: b.category,
            instructions: instructions.get(&b.name).copied(),
            time: time.map(|o| o.values.clone()),
            judgement: time.map(|o| o.judgement),
            unconfirmed: time.and_then(|o| o.unconfirmed),
            bytes: None,
            verdict: Verdict::Pass,
            why: String::new(),
            hotspots: Vec::new(),
            hotspot_notes: Vec::new(),
            hotspot_instrument: None,
            simulated: None,
        };
        let (verdict, why) = match (&row.judgement, b.category) {
            (_, Category::Memory) => {
                let sizes = [
                    probe::bytes(&mut *probes[BASE], &b.name)?,
                    probe::bytes(&mut *probes[HEAD], &b.name)?,
                ];
                row.bytes = Some(sizes);
                decide_bytes(t, b.category, sizes)
            }
            (Some(j), c) => decide(t, c, row.instructions, j),
            (None, _) => unreachable!("every timed benchmark was judged"),
        };
        row.verdict = verdict;
        row.why = why;
        if opts.hotspots
            && b.category != Category::Memory
            && matches!(verdict, Verdict::Regression | Verdict::Warning)
        {
            explain(probes, &mut exactly, &mut row)?;
        }
        rows.push(row);
    }
    // Most severe first, then by name.
    rows.sort_by(|a, b| {
        severity(b.verdict)
            .cmp(&severity(a.verdict))
            .then(a.name.cmp(&b.name))
    });
    Ok(Measured {
        rows,
        rounds: judged
            .values()
            .map(|o| o.judgement.rounds)
            .max()
            .unwrap_or(0),
        only_in_base,
        only_in_head,
        load,
    })
}

/// A failing or warning row's hotspot diff (exact where its counts moved)
/// and callgrind's simulated caches and branches on both sides.
pub(super) fn explain(
    probes: &mut [&mut dyn Probe; 2],
    exactly: &mut Option<(&mut Exactly, [String; 2])>,
    row: &mut Row,
) -> Result<()> {
    let [base, head] = probes;
    let ids = exactly
        .as_ref()
        .map_or([String::new(), String::new()], |(_, fps)| fps.clone());
    let time_change = row.judgement.map(|j| j.estimate - 1.0);
    let diff = hotspots::explain(
        exactly.as_mut().map(|(ex, _)| &mut **ex),
        Side {
            probe: &mut **base,
            id: ids[BASE].clone(),
        },
        Side {
            probe: &mut **head,
            id: ids[HEAD].clone(),
        },
        &row.name,
        time_change,
        5,
    );
    match diff {
        Ok(d) => {
            row.hotspots = d.changes;
            row.hotspot_notes = d.notes;
            row.hotspot_instrument = Some(d.instrument);
        }
        Err(e) => {
            crate::process::check()?;
            row.hotspot_notes.push(format!("no hotspots: {e:#}"));
        }
    }
    if let Some((ex, fps)) = exactly {
        let opts = exact::Options { simulate: true };
        let sim = ex
            .costs(&mut **base, &fps[BASE], &row.name, opts)
            .and_then(|b| Ok((b, ex.costs(&mut **head, &fps[HEAD], &row.name, opts)?)));
        match sim {
            Ok((b, h)) => row.simulated = b.simulated().zip(h.simulated()).map(|(b, h)| [b, h]),
            Err(e) => {
                crate::process::check()?;
                row.hotspot_notes
                    .push(format!("no cache simulation: {e:#}"));
            }
        }
    }
    Ok(())
}
