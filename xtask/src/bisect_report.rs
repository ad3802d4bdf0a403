//! A bisect's report: the culprit with its step, its confirmation in time
//! (or why an instruction culprit is not the answer), the hotspot diff,
//! every measured commit, and what the search cost. Rendering only: the
//! search is `search.rs`, the command `bisect.rs`.

use crate::builds::BuildKey;
use crate::flags::MetricChoice;
use crate::git::CommitInfo;
use crate::search::{Answer, Finding, Metric, Step};
use crate::stats::median;
use crate::verdicts::{fmt_ns, short};
use serde::{Deserialize, Serialize};
use std::fmt::Write;

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
    /// Functions whose time changed most, parent → culprit.
    pub hotspots: Vec<crate::stacks::Change>,
    /// Why the hotspot diff may mislead, or is missing.
    pub hotspot_notes: Vec<String>,
    pub build_key: BuildKey,
    pub builds: usize,
    pub measurements: usize,
    pub cached: usize,
    /// Cache entries found damaged and rebuilt or measured again.
    pub repaired: Vec<String>,
    pub wall_s: f64,
}

fn pct(r: f64) -> String {
    format!("{:+.1}%", (r - 1.0) * 100.0)
}

fn fmt_p(p: f64) -> String {
    if p < 1e-4 {
        "p < 0.0001".to_string()
    } else {
        format!("p = {p:.4}")
    }
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

    pub fn headline(&self) -> String {
        let (good, bad) = (
            short(&self.commits[0].id),
            short(&self.commits[self.commits.len() - 1].id),
        );
        let metric = self.answer.metric.name();
        let p = |p: &Option<f64>| p.map_or(String::new(), |p| format!(", p = {p:.3}"));
        match &self.answer.outcome.finding {
            Finding::NoRegression { ratio, p: pv } => format!(
                "no regression of {} from {good} to {bad}: {} ({metric}{}), within the {}% threshold",
                self.bench,
                pct(*ratio),
                p(pv),
                self.threshold_pct
            ),
            Finding::Improvement { ratio, p: pv } => format!(
                "{} got faster from {good} to {bad}: {} ({metric}{}); nothing to bisect",
                self.bench,
                pct(*ratio),
                p(pv)
            ),
            Finding::Inconclusive { ratio, p: pv } => format!(
                "cannot tell whether {} regressed from {good} to {bad}: {} ({metric}{}) after the maximum rounds; try --metric instructions or a quieter machine",
                self.bench,
                pct(*ratio),
                p(pv)
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
            Finding::Ambiguous { after, upto } => format!(
                "{} regressed after {} and at or before {}: the commits between could not be measured",
                self.bench,
                short(&self.commit(*after).id),
                short(&self.commit(*upto).id)
            ),
        }
    }

    fn step_line(&self, step: &Step, metric: Metric, total: f64) -> String {
        format!(
            "{} over its parent {} ({}; 95% interval {:+.1}% to {:+.1}%{}), {:.0}% of the whole good→bad change of {}",
            pct(step.ratio),
            short(&self.commit(step.parent).id),
            metric.name(),
            (step.low - 1.0) * 100.0,
            (step.high - 1.0) * 100.0,
            step.p.map_or(String::new(), |p| format!(", {}", fmt_p(p))),
            step.share * 100.0,
            pct(total)
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
                "Not the answer: instruction counts named {} \"{}\" ({} instructions over its parent), but time does not confirm a slowdown there ({}, 95% interval {:+.1}% to {:+.1}%{}); the search above ran again in time.  \n",
                short(&c.id),
                c.subject,
                pct(step.ratio),
                pct(u.in_time.ratio),
                (u.in_time.low - 1.0) * 100.0,
                (u.in_time.high - 1.0) * 100.0,
                u.in_time
                    .p
                    .map_or(String::new(), |p| format!(", {}", fmt_p(p)))
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
                let _ = writeln!(
                    out,
                    "Confirmed in time: {} (95% interval {:+.1}% to {:+.1}%{})  ",
                    pct(t.ratio),
                    (t.low - 1.0) * 100.0,
                    (t.high - 1.0) * 100.0,
                    t.p.map_or(String::new(), |p| format!(", {}", fmt_p(p)))
                );
            }
            if !self.hotspots.is_empty() {
                let _ = writeln!(
                    out,
                    "\nHotspots (time by zp function, with what it calls outside zp: libc, the kernel, other crates; parent → culprit):  "
                );
                for (i, h) in self.hotspots.iter().enumerate() {
                    let _ = writeln!(
                        out,
                        "{}. {} - {:.0}% → {:.0}% of time ({:+.1}% of the parent's time)  ",
                        i + 1,
                        crate::stacks::elide_generics(&h.function),
                        h.before_pct,
                        h.after_pct,
                        h.growth_pct
                    );
                }
            }
            for n in &self.hotspot_notes {
                let _ = writeln!(out, "Note: {n}  ");
            }
            out.push('\n');
            for (a, b, r) in other_steps {
                let _ = writeln!(
                    out,
                    "Another step of comparable size: {} between {} and {}  ",
                    pct(*r),
                    short(&self.commit(*a).id),
                    short(&self.commit(*b).id)
                );
            }
            if !other_steps.is_empty() {
                out.push('\n');
            }
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
    use crate::search::{Class, Outcome, Unconfirmed, Visit};

    fn commit(i: usize, subject: &str) -> CommitInfo {
        CommitInfo {
            id: format!("{i}{}", "0".repeat(39)),
            subject: subject.into(),
            author: "Dev".into(),
            date: "2026-11-24T12:00:00Z".into(),
            relevant_files: vec!["zp/src/record.rs".into()],
        }
    }

    fn step(parent: usize, culprit: usize, ratio: f64, p: Option<f64>) -> Step {
        Step {
            parent,
            culprit,
            ratio,
            low: ratio - 0.02,
            high: ratio + 0.02,
            p,
            share: 1.0,
        }
    }

    fn visit(index: usize, class: Class, v: f64) -> Visit {
        Visit {
            index,
            class,
            samples: vec![v],
            note: None,
        }
    }

    /// Instruction counts named commit 2, time did not confirm it, and the
    /// search in time named commit 5: the headline is commit 5, and commit
    /// 2 is said plainly not to be the answer.
    #[test]
    fn an_unconfirmed_instruction_culprit_is_never_the_headline() {
        let commits: Vec<CommitInfo> = (0..7).map(|i| commit(i, &format!("change {i}"))).collect();
        let time = Outcome {
            total_ratio: 1.15,
            finding: Finding::Culprit {
                step: step(4, 5, 1.15, Some(1e-5)),
                other_steps: vec![],
            },
            visits: vec![visit(0, Class::Good, 100.0), visit(6, Class::Bad, 115.0)],
            reused: 0,
        };
        let counted = Outcome {
            total_ratio: 1.10,
            finding: Finding::Culprit {
                step: step(1, 2, 1.10, None),
                other_steps: vec![],
            },
            visits: vec![],
            reused: 0,
        };
        let report = Report {
            bench: "encrypt_record_1k".into(),
            choice: MetricChoice::Auto,
            threshold_pct: 5.0,
            commits,
            irrelevant: 0,
            answer: Answer {
                metric: Metric::Time,
                outcome: time,
                confirmation: None,
                unconfirmed: Some(Unconfirmed {
                    outcome: counted,
                    in_time: step(1, 2, 1.004, Some(0.6)),
                }),
            },
            hotspots: vec![],
            hotspot_notes: vec![],
            build_key: BuildKey::of(Default::default()),
            builds: 7,
            measurements: 40,
            cached: 0,
            repaired: vec![],
            wall_s: 30.0,
        };
        let text = report.render();
        assert!(
            text.starts_with("## bisect encrypt_record_1k: encrypt_record_1k regressed at 5000000000 \"change 5\": +15.0%"),
            "{text}"
        );
        assert!(
            text.contains("Not the answer: instruction counts named 2000000000 \"change 2\" (+10.0% instructions over its parent), but time does not confirm a slowdown there (+0.4%"),
            "{text}"
        );
        assert!(
            text.contains("Step: +15.0% over its parent 4000000000 (time;"),
            "{text}"
        );
    }
}
