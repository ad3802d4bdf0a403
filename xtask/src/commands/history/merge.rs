//! `--merge`: shard files combined into one history, refusing shards whose
//! counts are not comparable.

use super::*;

/// Combines shard files into one history.
pub fn merge(ctx: &Ctx, files: &[PathBuf]) -> Result<History> {
    let _ = ctx;
    let started = Instant::now();
    let mut parts = Vec::new();
    for f in files {
        parts.push((f.clone(), load(f)?));
    }
    let (first_path, first) = parts[0].clone();
    let mut out = first.clone();
    out.shards.clear();
    out.notes.clear();
    out.changes.clear();
    out.cost = Cost::default();
    let name = |p: &Path| p.display().to_string();
    let mut walls = Vec::new();
    let mut time_dropped = false;
    for (path, h) in &parts {
        let ids = |h: &History| -> Vec<String> {
            h.commits.iter().map(|p| p.commit.id.clone()).collect()
        };
        if ids(h) != ids(&first) {
            bail!(CannotMerge(format!(
                "{} and {} cover different histories (up to {} and {}, {} and {} commits): run every shard with the same --since/--last and --until",
                name(&first_path),
                name(path),
                short(&first.head),
                short(&h.head),
                first.commits.len(),
                h.commits.len()
            )));
        }
        if h.build_key != first.build_key {
            let differ: Vec<&str> = h
                .build_key
                .inputs
                .keys()
                .chain(first.build_key.inputs.keys())
                .filter(|k| h.build_key.inputs.get(*k) != first.build_key.inputs.get(*k))
                .map(String::as_str)
                .collect::<BTreeSet<_>>()
                .into_iter()
                .collect();
            bail!(CannotMerge(format!(
                "{} was built differently from {} ({}): its instruction counts are not comparable; build every shard with the same toolchain and settings",
                name(path),
                name(&first_path),
                if differ.is_empty() {
                    "another build key".to_string()
                } else {
                    format!("differs in {}", differ.join(", "))
                }
            )));
        }
        let counts = h.kinds.contains(&Kind::Instructions);
        if counts && h.valgrind != first.valgrind {
            bail!(CannotMerge(format!(
                "{} counted with {} and {} with {}: instruction counts differ between valgrind versions",
                name(&first_path),
                first.valgrind.as_deref().unwrap_or("no valgrind"),
                name(path),
                h.valgrind.as_deref().unwrap_or("no valgrind")
            )));
        }
        if counts && h.counted_features != first.counted_features {
            let set =
                |h: &History| -> BTreeSet<String> { h.counted_features.iter().cloned().collect() };
            let (a, b) = (set(&first), set(h));
            let only = |x: &BTreeSet<String>, y: &BTreeSet<String>| {
                x.difference(y).cloned().collect::<Vec<_>>().join(",")
            };
            bail!(CannotMerge(format!(
                "{} counted on a CPU that valgrind shows with other features than {} (only the first: {}; only the second: {}): the crypto crates pick other code paths, so counts differ",
                name(&first_path),
                name(path),
                only(&a, &b),
                only(&b, &a)
            )));
        }
        if h.kinds != first.kinds {
            bail!(CannotMerge(format!(
                "{} measured {:?} and {} {:?}: run every shard with the same --metric",
                name(&first_path),
                first.kinds,
                name(path),
                h.kinds
            )));
        }
        if h.benches.keys().ne(first.benches.keys()) {
            bail!(CannotMerge(format!(
                "{} and {} measured different benchmarks: run every shard with the same BENCH arguments",
                name(&first_path),
                name(path)
            )));
        }
        if h.machine != first.machine && h.kinds.contains(&Kind::Time) {
            time_dropped = true;
        }
        out.shards.extend(h.shards.iter().copied());
        out.cost.builds += h.cost.builds;
        out.cost.measurements += h.cost.measurements;
        out.cost.cached += h.cost.cached;
        walls.push(h.cost.wall_s);
        out.notes.extend(h.notes.iter().cloned());
    }
    out.shards.sort();
    let unique: BTreeSet<Shard> = out.shards.iter().copied().collect();
    if unique.len() != out.shards.len() {
        bail!(CannotMerge("the same shard was given twice".into()));
    }
    // Each commit from the shard that measured it.
    for (i, point) in out.commits.iter_mut().enumerate() {
        let measured: Vec<&History> = parts
            .iter()
            .map(|(_, h)| h)
            .filter(|h| h.commits[i].measured)
            .collect();
        let skipped = parts.iter().find_map(|(_, h)| h.commits[i].skipped.clone());
        point.measured = !measured.is_empty();
        point.skipped = if point.measured { None } else { skipped };
        point.probe = measured.first().and_then(|h| h.commits[i].probe.clone());
        for (bench, b) in out.benches.iter_mut() {
            for (kind, values) in b.series.iter_mut() {
                let seen: Vec<f64> = measured
                    .iter()
                    .filter_map(|h| h.series(bench, *kind).and_then(|s| s[i]))
                    .collect();
                if kind.exact() && seen.windows(2).any(|w| w[0] != w[1]) {
                    bail!(CannotMerge(format!(
                        "two shards measured {bench} at {} and disagree ({} and {}): they are not comparable",
                        short(&point.commit.id),
                        seen[0],
                        seen[1]
                    )));
                }
                values[i] = seen.first().copied();
            }
        }
    }
    if time_dropped {
        for b in out.benches.values_mut() {
            b.series.remove(&Kind::Time);
        }
        out.kinds.retain(|k| *k != Kind::Time);
        out.notes.push(
            "time series dropped: the shards ran on different machines, whose times are not comparable".into(),
        );
    }
    let missing: Vec<String> = (1..=first.shards.first().map_or(1, |s| s.count))
        .filter(|k| !out.shards.iter().any(|s| s.index == *k))
        .map(|k| format!("{k}/{}", first.shards.first().map_or(1, |s| s.count)))
        .collect();
    if !missing.is_empty() {
        out.notes.push(format!(
            "shards {} are missing: their commits are not measured",
            missing.join(", ")
        ));
    }
    out.created = crate::host::utc_now().1;
    out.cost.wall_s = walls.iter().copied().fold(0.0, f64::max) + started.elapsed().as_secs_f64();
    Ok(out)
}
