//! `profiles/budgets.toml`: every benchmark's category and absolute target,
//! and each category's regression thresholds. The single source of both;
//! nothing else in the workbench names a benchmark or a percentage.

use anyhow::{Context, Result, bail};
use serde::Deserialize;
use std::collections::BTreeMap;
use std::path::Path;

/// The four categories, defined once in `probe-protocol`.
pub use probe_protocol::Category;

/// Relative changes against a baseline: above `warning` is a WARNING, above
/// `failure` a REGRESSION.
#[derive(Debug, Clone, Copy, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Thresholds {
    pub warning: f64,
    pub failure: f64,
}

/// A benchmark's absolute target.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Target {
    /// An upper bound on the median time, in nanoseconds.
    Nanos(f64),
    /// An upper bound on the size, in bytes.
    Bytes(u64),
}

#[derive(Debug, Clone, PartialEq)]
pub struct Budget {
    pub name: String,
    pub category: Category,
    pub target: Target,
    pub description: String,
}

#[derive(Debug, Clone)]
pub struct Budgets {
    /// In the file's order.
    pub benchmarks: Vec<Budget>,
    pub thresholds: BTreeMap<Category, Thresholds>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct File {
    thresholds: BTreeMap<Category, Thresholds>,
    benchmarks: toml::Table,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Entry {
    category: Category,
    target_us: Option<f64>,
    target_bytes: Option<u64>,
    description: String,
}

impl Budgets {
    pub fn load(path: &Path) -> Result<Budgets> {
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("cannot read {}", path.display()))?;
        Budgets::parse(&text).with_context(|| format!("invalid budgets file {}", path.display()))
    }

    pub fn parse(text: &str) -> Result<Budgets> {
        let file: File = toml::from_str(text)?;
        let mut benchmarks = Vec::new();
        // `preserve_order` keeps the file's order, which is the requirements'.
        for (name, value) in file.benchmarks {
            let e: Entry = value
                .try_into()
                .with_context(|| format!("benchmark `{name}`"))?;
            let target = match (e.category, e.target_us, e.target_bytes) {
                (Category::Memory, None, Some(b)) => Target::Bytes(b),
                (Category::Memory, _, _) => {
                    bail!("benchmark `{name}`: a memory benchmark needs `target_bytes` only")
                }
                (_, Some(us), None) if us > 0.0 => Target::Nanos(us * 1e3),
                (c, _, _) => {
                    bail!("benchmark `{name}`: a {c} benchmark needs a positive `target_us` only")
                }
            };
            benchmarks.push(Budget {
                name,
                category: e.category,
                target,
                description: e.description,
            });
        }
        for c in Category::ALL {
            let t = file
                .thresholds
                .get(&c)
                .with_context(|| format!("no [thresholds.{c}]"))?;
            if !(0.0 < t.warning && t.warning < t.failure) {
                bail!(
                    "[thresholds.{c}]: need 0 < warning < failure, got {} and {}",
                    t.warning,
                    t.failure
                );
            }
        }
        Ok(Budgets {
            benchmarks,
            thresholds: file.thresholds,
        })
    }

    pub fn get(&self, name: &str) -> Option<&Budget> {
        self.benchmarks.iter().find(|b| b.name == name)
    }

    pub fn thresholds(&self, c: Category) -> Thresholds {
        self.thresholds[&c]
    }

    /// The time benchmarks `target` selects (memory benchmarks are sizes:
    /// nothing to time, sample or count), refusing a target of sizes only.
    pub fn timed(&self, target: Option<&str>) -> Result<Vec<&Budget>> {
        let picked: Vec<&Budget> = self
            .select(target)?
            .into_iter()
            .filter(|b| b.category != Category::Memory)
            .collect();
        if picked.is_empty() {
            anyhow::bail!(crate::Usage(format!(
                "`{}` selects only memory benchmarks, which are sizes: there is no time to profile (`cargo xtask bench memory` shows them)",
                target.unwrap_or("")
            )));
        }
        Ok(picked)
    }

    /// The benchmarks a filter selects: a category name selects that
    /// category, anything else the names containing it. No match is an
    /// error that suggests the nearest names.
    pub fn select(&self, filter: Option<&str>) -> Result<Vec<&Budget>> {
        let Some(f) = filter else {
            return Ok(self.benchmarks.iter().collect());
        };
        let picked: Vec<&Budget> = match Category::ALL.iter().find(|c| c.as_str() == f) {
            Some(c) => self
                .benchmarks
                .iter()
                .filter(|b| b.category == *c)
                .collect(),
            None => self
                .benchmarks
                .iter()
                .filter(|b| b.name.contains(f))
                .collect(),
        };
        if picked.is_empty() {
            let names: Vec<&str> = self.benchmarks.iter().map(|b| b.name.as_str()).collect();
            bail!(crate::Usage(format!(
                "no benchmark matches `{f}`; {}",
                suggest(f, &names)
            )));
        }
        Ok(picked)
    }
}

/// "did you mean …" for the nearest names by edit distance, or the list of
/// all names when none is close.
pub fn suggest(wrong: &str, names: &[&str]) -> String {
    // A filter matches part of a name, so also measure against every
    // stretch of the name as long as the filter.
    let len = wrong.chars().count();
    let distance = |n: &str| {
        let chars: Vec<char> = n.chars().collect();
        (0..=chars.len().saturating_sub(len))
            .map(|i| {
                let window: String = chars[i..(i + len).min(chars.len())].iter().collect();
                edit_distance(wrong, &window)
            })
            .chain([edit_distance(wrong, n)])
            .min()
            .unwrap_or(usize::MAX)
    };
    let mut scored: Vec<(usize, &str)> = names.iter().map(|n| (distance(n), *n)).collect();
    scored.sort();
    let close: Vec<&str> = scored
        .iter()
        .take_while(|(d, _)| *d <= scored[0].0 && *d <= wrong.len().max(3) / 2 + 2)
        .map(|(_, n)| *n)
        .collect();
    if close.is_empty() {
        format!("the benchmarks are: {}", names.join(", "))
    } else {
        format!(
            "did you mean {}?",
            close
                .iter()
                .map(|n| format!("`{n}`"))
                .collect::<Vec<_>>()
                .join(" or ")
        )
    }
}

/// Levenshtein distance, by the two-row dynamic programme.
pub fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut cur = vec![i + 1; b.len() + 1];
        for (j, cb) in b.iter().enumerate() {
            cur[j + 1] = (prev[j] + usize::from(ca != *cb))
                .min(prev[j + 1] + 1)
                .min(cur[j] + 1);
        }
        prev = cur;
    }
    prev[b.len()]
}

#[cfg(test)]
mod tests {
    use super::*;

    fn budgets() -> Budgets {
        Budgets::load(&crate::workspace_root().join("profiles/budgets.toml")).unwrap()
    }

    #[test]
    fn the_committed_file_has_the_21_benchmarks_of_the_requirements() {
        let b = budgets();
        assert_eq!(b.benchmarks.len(), 21);
        let per: Vec<usize> = Category::ALL
            .iter()
            .map(|c| b.benchmarks.iter().filter(|x| x.category == *c).count())
            .collect();
        assert_eq!(per, [10, 4, 4, 3]);
        assert_eq!(b.get("x25519_dh").unwrap().target, Target::Nanos(50_000.0));
        assert_eq!(
            b.get("state_token_size").unwrap().target,
            Target::Bytes(1024)
        );
        assert_eq!(
            b.thresholds(Category::Handshake),
            Thresholds {
                warning: 0.20,
                failure: 0.50
            }
        );
        assert_eq!(
            b.thresholds(Category::Datapath),
            Thresholds {
                warning: 0.10,
                failure: 0.25
            }
        );
    }

    #[test]
    fn filters_select_by_category_or_substring_and_suggest_on_no_match() {
        let b = budgets();
        let names = |f| {
            b.select(Some(f))
                .unwrap()
                .iter()
                .map(|x| x.name.clone())
                .collect::<Vec<_>>()
        };
        assert_eq!(names("handshake").len(), 4);
        assert_eq!(
            names("encrypt_record"),
            ["encrypt_record_1k", "encrypt_record_64k"]
        );
        let err = b
            .select(Some("encrypt_recrod_64k"))
            .unwrap_err()
            .to_string();
        assert!(err.contains("did you mean `encrypt_record_64k`?"), "{err}");
        let err = b.select(Some("encrypt_recrod")).unwrap_err().to_string();
        assert!(
            err.contains("did you mean `encrypt_record_1k` or `encrypt_record_64k`?"),
            "{err}"
        );
        assert!(
            b.select(Some("nothing-like-it"))
                .unwrap_err()
                .is::<crate::Usage>()
        );
        let err = b.select(Some("zzzzzzzzzzzzzzzz")).unwrap_err().to_string();
        assert!(err.contains("the benchmarks are: x25519_keygen"), "{err}");
    }

    #[test]
    fn invalid_files_are_refused_with_the_reason() {
        let missing_tier = "[thresholds.crypto]\nwarning = 0.1\nfailure = 0.25\n[benchmarks]\n";
        assert!(
            Budgets::parse(missing_tier)
                .unwrap_err()
                .to_string()
                .contains("[thresholds.handshake]")
        );
        let t = "[thresholds.crypto]\nwarning=0.1\nfailure=0.2\n[thresholds.handshake]\nwarning=0.1\nfailure=0.2\n\
                 [thresholds.datapath]\nwarning=0.1\nfailure=0.2\n[thresholds.memory]\nwarning=0.3\nfailure=0.2\n[benchmarks]\n";
        assert!(
            Budgets::parse(t)
                .unwrap_err()
                .to_string()
                .contains("0 < warning < failure")
        );
        let bytes_on_time = t.replace("warning=0.3", "warning=0.1")
            + "a = { category = \"crypto\", target_bytes = 3, description = \"x\" }\n";
        assert!(
            format!("{:#}", Budgets::parse(&bytes_on_time).unwrap_err())
                .contains("positive `target_us`")
        );
    }

    #[test]
    fn edit_distance_is_levenshtein() {
        assert_eq!(edit_distance("kitten", "sitting"), 3);
        assert_eq!(edit_distance("", "abc"), 3);
        assert_eq!(edit_distance("same", "same"), 0);
    }
}
