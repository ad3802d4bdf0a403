//! A bisect's report: the culprit with its step, its confirmation in time
//! (or why an instruction culprit is not the answer), the hotspot diff,
//! every measured commit, and what the search cost. Rendering only: the
//! search is `search.rs`, the command `bisect.rs`.

use crate::cli::flags::MetricChoice;
use crate::measure::hotspots::Instrument;
use crate::model::search::{Answer, Finding, Metric, Step};
use crate::model::sequential::{Judgement, Outcome as Said, pct};
use crate::stacks::Profile;
use crate::stats::median;
use crate::storage::builds::BuildKey;
use crate::units::{fmt_ns, short};
use crate::vcs::git::CommitInfo;
use anyhow::Result;
use serde::{Deserialize, Serialize};
use std::fmt::Write;
use std::path::{Path, PathBuf};

#[derive(Debug, Serialize, Deserialize)]
pub struct Report {
    pub bench: String,
    /// What the user asked for; `answer.metric` is what answered.
    pub choice: MetricChoice,
    pub threshold_pct: f64,
    pub commits: Vec<CommitInfo>,
    pub irrelevant: usize,
    #[serde(flatten)]
    pub answer: Answer,
    /// Functions whose cost changed most, parent → culprit.
    pub hotspots: Vec<crate::stacks::Change>,
    /// Why the hotspot diff may mislead, or is missing.
    pub hotspot_notes: Vec<String>,
    /// Which instrument the hotspots came from.
    #[serde(default)]
    pub hotspot_instrument: Option<Instrument>,
    /// The differential flamegraph of the culprit against its parent.
    #[serde(default)]
    pub flamegraph: Option<String>,
    pub build_key: BuildKey,
    pub builds: usize,
    pub measurements: usize,
    pub cached: usize,
    /// Cache entries found damaged and rebuilt or measured again.
    pub repaired: Vec<String>,
    pub wall_s: f64,
}

impl Report {
    fn value(&self, v: f64) -> String {
        match self.answer.metric {
            Metric::Instructions => format!("{v:.0} instr"),
            Metric::Time => fmt_ns(v),
        }
    }

    fn commit(&self, i: usize) -> &CommitInfo {
        &self.commits[i]
    }

    /// How busy the machine was while time was measured, in one line.
    fn load_line(&self) -> Option<String> {
        self.answer.load.map(|l| {
            let budget = crate::model::sequential::RoundBudget::DEFAULT;
            let more = if l.busy() {
                format!(
                    "; being busy, a comparison could take up to {} rounds instead of {}",
                    budget.busy, budget.quiet
                )
            } else {
                String::new()
            };
            format!("{}; decided on {}{more}", l.describe(), l.clock.name())
        })
    }

    pub fn headline(&self) -> String {
        let (good, bad) = (
            short(&self.commits[0].id),
            short(&self.commits[self.commits.len() - 1].id),
        );
        let metric = self.answer.metric.name();
        let evidence = |ratio: f64, j: &Option<Judgement>| match j {
            Some(j) => format!("{} in {metric}", j.describe()),
            None => format!("{} {metric}, exact", pct(ratio)),
        };
        match &self.answer.outcome.finding {
            Finding::NoRegression { ratio, judgement } => format!(
                "no regression of {} from {good} to {bad}: {}, within the {}% threshold",
                self.bench,
                evidence(*ratio, judgement),
                self.threshold_pct
            ),
            Finding::Improvement { ratio, judgement } => format!(
                "{} got faster from {good} to {bad}: {}; nothing to bisect",
                self.bench,
                evidence(*ratio, judgement)
            ),
            Finding::Undecided { judgement } => format!(
                "cannot decide yet whether {} regressed from {good} to {bad}: {} in {metric}, neither past the {}% threshold nor within it{}; what would decide it: {}, or --metric instructions",
                self.bench,
                judgement.describe(),
                self.threshold_pct,
                self.load_line()
                    .map_or(String::new(), |l| format!(" ({l})")),
                judgement.what_would_decide()
            ),
            Finding::Culprit { step, .. } => {
                let c = self.commit(step.culprit);
                format!(
                    "{} regressed at {} \"{}\": {} ({:.0}% of the whole change)",
                    self.bench,
                    short(&c.id),
                    c.subject,
                    pct(step.ratio),
                    step.share * 100.0
                )
            }
            Finding::Unconfirmed { step } if step.said() == Said::NotSlower => {
                let c = self.commit(step.culprit);
                format!(
                    "cannot decide: the search in {metric} ended three times on a step that time shows not slower, last at {} \"{}\" ({}): the endpoints' difference may be spread over several commits too small to judge one by one; bisect a narrower range, or use --metric instructions",
                    short(&c.id),
                    c.subject,
                    step.judgement
                        .as_ref()
                        .map_or(pct(step.ratio), Judgement::describe)
                )
            }
            Finding::Unconfirmed { step } => {
                let c = self.commit(step.culprit);
                format!(
                    "cannot decide yet: the search in {metric} ended at {} \"{}\", but its step over its parent is {}, not shown slower by half the {}% threshold{}; what would decide it: {}, or --metric instructions",
                    short(&c.id),
                    c.subject,
                    step.judgement
                        .as_ref()
                        .map_or(pct(step.ratio), Judgement::describe),
                    self.threshold_pct,
                    self.load_line()
                        .map_or(String::new(), |l| format!(" ({l})")),
                    step.judgement
                        .as_ref()
                        .map_or("more rounds".to_string(), |j| j.what_would_decide())
                )
            }
            Finding::Ambiguous { after, upto } => format!(
                "{} regressed after {} and at or before {}: the commits between could not be measured",
                self.bench,
                short(&self.commit(*after).id),
                short(&self.commit(*upto).id)
            ),
        }
    }

    fn step_line(&self, step: &Step, metric: Metric, total: f64) -> String {
        let how = match &step.judgement {
            Some(j) => format!("time; {}", j.describe()),
            None => format!("{}, exact", metric.name()),
        };
        format!(
            "{} over its parent {} ({how}), {:.0}% of the whole good→bad change of {}",
            pct(step.ratio),
            short(&self.commit(step.parent).id),
            step.share * 100.0,
            pct(total)
        )
    }

    /// Writes the differential flamegraph of parent → culprit from the
    /// hotspot diff's stacks (exact instruction counts, or samples).
    pub fn differential_flamegraph(
        &self,
        dir: &Path,
        stem: &str,
        instrument: Instrument,
        before: &Profile,
        after: &Profile,
    ) -> Result<PathBuf> {
        let folded = crate::render::flamegraph::differential(before, after)?;
        let counted = match instrument {
            Instrument::Callgrind => crate::render::flamegraph::Counted {
                unit: "instructions",
                how: "counted by callgrind (exact; 10 iterations)".into(),
            },
            Instrument::Pprof => crate::render::flamegraph::Counted {
                unit: "samples",
                how: format!("at {} Hz", crate::measure::sampled::FREQUENCY),
            },
        };
        let title = match self.answer.outcome.finding {
            Finding::Culprit { ref step, .. } | Finding::Unconfirmed { ref step } => format!(
                "{}: {} → {} (red grew, blue shrank)",
                self.bench,
                short(&self.commit(step.parent).id),
                short(&self.commit(step.culprit).id)
            ),
            _ => self.bench.clone(),
        };
        crate::render::flamegraph::render(
            dir,
            &format!("{stem}-diff"),
            &folded,
            after.total(),
            &title,
            &counted,
        )
    }

    pub fn render(&self) -> String {
        let mut out = String::new();
        let _ = writeln!(out, "## bisect {}: {}\n", self.bench, self.headline());
        if let Some(u) = &self.answer.unconfirmed
            && let Finding::Culprit { step, .. } = &u.outcome.finding
        {
            let c = self.commit(step.culprit);
            let _ = writeln!(
                out,
                "Not the answer: instruction counts named {} \"{}\" ({} instructions over its parent), but time shows that step not slower ({}); the search above ran again in time.  \n",
                short(&c.id),
                c.subject,
                pct(step.ratio),
                u.in_time
                    .judgement
                    .as_ref()
                    .map_or(pct(u.in_time.ratio), Judgement::describe),
            );
        }
        if let Finding::Culprit { step, other_steps } = &self.answer.outcome.finding {
            let c = self.commit(step.culprit);
            let _ = writeln!(out, "Culprit: {}  ", c.id);
            let _ = writeln!(out, "Subject: {}  ", c.subject);
            let _ = writeln!(out, "Author: {}, {}  ", c.author, c.date);
            let _ = writeln!(
                out,
                "Files under zp/ and the manifests: {}  ",
                c.relevant_files.join(", ")
            );
            let _ = writeln!(
                out,
                "Step: {}  ",
                self.step_line(step, self.answer.metric, self.answer.outcome.total_ratio)
            );
            if let Some(t) = &self.answer.confirmation {
                let j = t.judgement.as_ref();
                let words = j.map_or(pct(t.ratio), Judgement::describe);
                let line = match t.said() {
                    Said::Slower => format!("Confirmed in time: {words}  "),
                    _ => format!(
                        "Time: cannot decide on this machine: {words}{}. The culprit above is the exact instruction count's answer; {}.  ",
                        self.load_line().map_or(String::new(), |l| format!("; {l}")),
                        j.map_or("more rounds".into(), |j| j.what_would_decide())
                    ),
                };
                let _ = writeln!(out, "{line}");
            }
            self.render_hotspots(&mut out);
            out.push('\n');
            for (a, b, r) in other_steps {
                let _ = writeln!(
                    out,
                    "Another step of comparable size (medians of the observations, not tested): {} between {} and {}  ",
                    pct(*r),
                    short(&self.commit(*a).id),
                    short(&self.commit(*b).id)
                );
            }
            if !other_steps.is_empty() {
                out.push('\n');
            }
        }
        if let Finding::Unconfirmed { .. } = &self.answer.outcome.finding {
            self.render_hotspots(&mut out);
            out.push('\n');
        }
        if let Some(l) = self.load_line() {
            let _ = writeln!(out, "Machine: {l}.  \n");
        }
        let good = self
            .answer
            .outcome
            .visits
            .iter()
            .find(|v| v.index == 0)
            .filter(|v| !v.samples.is_empty())
            .map(|v| median(&v.samples));
        let _ = writeln!(
            out,
            "| # | commit | subject | verdict | median | vs good | observations |"
        );
        let _ = writeln!(
            out,
            "|---|--------|---------|---------|--------|---------|--------------|"
        );
        for v in &self.answer.outcome.visits {
            let c = self.commit(v.index);
            let (m, vs) = if v.samples.is_empty() {
                ("—".to_string(), "—".to_string())
            } else {
                let m = median(&v.samples);
                (
                    self.value(m),
                    good.map_or("—".into(), |g| format!("{:+.1}%", (m / g - 1.0) * 100.0)),
                )
            };
            let class = serde_json::to_value(v.class)
                .ok()
                .and_then(|x| x.as_str().map(String::from))
                .unwrap_or_default();
            let verdict = match &v.note {
                Some(n) => format!("{class} ({n})"),
                None => class,
            };
            let subject: String = c.subject.chars().take(50).collect();
            let _ = writeln!(
                out,
                "| {} | {} | {} | {} | {} | {} | {} |",
                v.index,
                short(&c.id),
                subject,
                verdict,
                m,
                vs,
                v.samples.len()
            );
        }
        let _ = writeln!(
            out,
            "\n{} candidate commits ({} left out as irrelevant) · {} builds · {} measurements, {} replayed from the cache · {} binaries identical to one already measured · {:.0} s",
            self.commits.len(),
            self.irrelevant,
            self.builds,
            self.measurements,
            self.cached,
            self.answer.outcome.reused,
            self.wall_s
        );
        let _ = writeln!(
            out,
            "Probes built with key {} ({})",
            self.build_key.hash,
            describe_key(&self.build_key)
        );
        for r in &self.repaired {
            let _ = writeln!(out, "Cache repaired: {r}");
        }
        out
    }

    fn render_hotspots(&self, out: &mut String) {
        if !self.hotspots.is_empty() {
            let (what, lines) = crate::render::flamegraph::hotspot_diff_lines(
                &self.hotspots,
                self.hotspot_instrument,
                "the parent's",
                false,
            );
            let _ = writeln!(
                out,
                "\nHotspots ({what}, with what each calls outside zp: libc, the kernel, other crates; parent → culprit):  "
            );
            for l in lines {
                let _ = writeln!(out, "{l}  ");
            }
        }
        for n in &self.hotspot_notes {
            let _ = writeln!(out, "Note: {n}  ");
        }
        if let Some(f) = &self.flamegraph {
            let _ = writeln!(out, "Differential flamegraph: {f}  ");
        }
    }
}

/// The inputs of a build key that people look for first.
fn describe_key(k: &BuildKey) -> String {
    let rustc = k
        .inputs
        .get("rustc")
        .and_then(|r| r.lines().next())
        .unwrap_or("rustc ?");
    let mut parts = vec![
        rustc.to_string(),
        format!(
            "profile {}",
            k.inputs.get("profile").map_or("?", String::as_str)
        ),
    ];
    if let Some(f) = k.inputs.get("features").filter(|f| !f.is_empty()) {
        parts.push(format!("features {f}"));
    }
    for (name, v) in &k.inputs {
        if let Some(var) = name.strip_prefix("env ") {
            parts.push(format!("{var}={v}"));
        } else if let Some(file) = name.strip_prefix("config ") {
            parts.push(format!("config {file}"));
        }
    }
    parts.join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::search::{Class, Outcome, Unconfirmed, Visit};
    use crate::model::sequential::Interval;

    fn commit(i: usize, subject: &str) -> CommitInfo {
        CommitInfo {
            id: format!("{i}{}", "0".repeat(39)),
            subject: subject.into(),
            author: "Dev".into(),
            date: "2026-11-24T12:00:00Z".into(),
            relevant_files: vec!["zp/src/record.rs".into()],
        }
    }

    fn judgement(ratio: f64, half_width: f64, tier: f64) -> Judgement {
        Judgement::of(
            Interval {
                estimate: ratio,
                low: ratio - half_width,
                high: ratio + half_width,
            },
            12,
            2,
            tier,
        )
    }

    fn timed(parent: usize, culprit: usize, j: Judgement) -> Step {
        Step::timed(parent, culprit, j, 1.0)
    }

    fn exact(parent: usize, culprit: usize, ratio: f64) -> Step {
        Step::exact(parent, culprit, ratio, 1.0)
    }

    fn visit(index: usize, class: Class, v: f64) -> Visit {
        Visit {
            index,
            class,
            samples: vec![v],
            note: None,
        }
    }

    fn report(answer: Answer) -> Report {
        Report {
            bench: "encrypt_record_1k".into(),
            choice: MetricChoice::Auto,
            threshold_pct: 5.0,
            commits: (0..7).map(|i| commit(i, &format!("change {i}"))).collect(),
            irrelevant: 0,
            answer,
            hotspots: vec![],
            hotspot_notes: vec![],
            hotspot_instrument: None,
            flamegraph: None,
            build_key: BuildKey::of(Default::default()),
            builds: 7,
            measurements: 40,
            cached: 0,
            repaired: vec![],
            wall_s: 30.0,
        }
    }

    fn counted(step: Step) -> Outcome {
        Outcome {
            total_ratio: step.ratio,
            finding: Finding::Culprit {
                step,
                other_steps: vec![],
            },
            visits: vec![],
            reused: 0,
            load: None,
            observations: Vec::new(),
        }
    }

    /// Instruction counts named commit 2, time showed that step not
    /// slower, and the search in time named commit 5: the headline is
    /// commit 5, and commit 2 is said plainly not to be the answer.
    #[test]
    fn an_instruction_culprit_time_shows_free_is_never_the_headline() {
        let time = Outcome {
            total_ratio: 1.15,
            finding: Finding::Culprit {
                step: timed(4, 5, judgement(1.15, 0.03, 0.025)),
                other_steps: vec![],
            },
            visits: vec![visit(0, Class::Good, 100.0), visit(6, Class::Bad, 115.0)],
            reused: 0,
            load: None,
            observations: Vec::new(),
        };
        let text = report(Answer {
            metric: Metric::Time,
            outcome: time,
            confirmation: None,
            unconfirmed: Some(Unconfirmed {
                outcome: counted(exact(1, 2, 1.10)),
                in_time: timed(1, 2, judgement(1.004, 0.01, 0.025)),
            }),
            load: None,
        })
        .render();
        insta::assert_snapshot!("bisect_report_time_culprit", text);
        assert!(
            text.starts_with("## bisect encrypt_record_1k: encrypt_record_1k regressed at 5000000000 \"change 5\": +15.0%"),
            "{text}"
        );
        assert!(
            text.contains("Not the answer: instruction counts named 2000000000 \"change 2\" (+10.0% instructions over its parent), but time shows that step not slower (+0.4% (98% interval -0.6% to +1.4%, 12 rounds))"),
            "{text}"
        );
        assert!(
            text.contains("Step: +15.0% over its parent 4000000000 (time; +15.0% (98% interval +12.0% to +18.0%"),
            "{text}"
        );
    }

    /// Time could not decide on a busy machine: the exact culprit is the
    /// answer, and the report says plainly that time could not confirm it,
    /// with the interval and the load.
    #[test]
    fn an_exact_culprit_time_cannot_decide_is_labelled() {
        let load = crate::model::observation::Load {
            observations: 40,
            descheduled: 31,
            pressure_median: Some(0.46),
            pressure_p90: Some(0.71),
            wall_over_cpu: Some(1.52),
            clock: crate::model::observation::Clock::Cpu,
        };
        let text = report(Answer {
            metric: Metric::Instructions,
            outcome: counted(exact(1, 2, 1.15)),
            confirmation: Some(timed(1, 2, judgement(1.06, 0.09, 0.025))),
            unconfirmed: None,
            load: Some(load),
        })
        .render();
        assert!(
            text.contains("regressed at 2000000000 \"change 2\": +15.0%"),
            "{text}"
        );
        assert!(
            text.contains("Time: cannot decide on this machine: +6.0% (98% interval -3.0% to +15.0%, 12 rounds); CPU busy: pressure 46% (median; 90th percentile 71%), 31 of 40 observations descheduled, wall time 1.52× the thread's CPU time; decided on thread CPU time; being busy, a comparison could take up to 62 rounds instead of 27. The culprit above is the exact instruction count's answer"),
            "{text}"
        );
    }

    #[test]
    fn undecided_endpoints_say_the_interval_and_what_would_decide() {
        let j = judgement(1.04, 0.05, 0.05);
        let text = report(Answer {
            metric: Metric::Time,
            outcome: Outcome {
                total_ratio: 1.04,
                finding: Finding::Undecided { judgement: j },
                visits: vec![],
                reused: 0,
                load: None,
                observations: Vec::new(),
            },
            confirmation: None,
            unconfirmed: None,
            load: None,
        })
        .headline();
        assert!(
            text.starts_with("cannot decide yet whether encrypt_record_1k regressed from 0000000000 to 6000000000: +4.0% (98% interval -1.0% to +9.0%, 12 rounds) in time, neither past the 5% threshold nor within it; what would decide it: about"),
            "{text}"
        );
    }
}
