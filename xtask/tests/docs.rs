//! The README and the book under `docs/` checked as data: every
//! `cargo xtask …` they show (in a code block, or inline in a sentence)
//! parses with the workbench's real command line, and every relative link
//! resolves to a file, and to a heading of it when it names one.

use clap::Parser;
use std::path::{Path, PathBuf};
use xtask::cli::flags::Xtask;

/// README.md and every Markdown file under docs/.
fn pages() -> Vec<PathBuf> {
    fn walk(dir: &Path, out: &mut Vec<PathBuf>) {
        for e in std::fs::read_dir(dir).unwrap().flatten() {
            let p = e.path();
            if p.is_dir() {
                walk(&p, out);
            } else if p.extension().is_some_and(|x| x == "md") {
                out.push(p);
            }
        }
    }
    let root = xtask::workspace_root();
    let mut out = vec![root.join("README.md")];
    walk(&root.join("docs"), &mut out);
    assert!(out.len() > 10, "found only {} pages", out.len());
    out
}

/// The page's prose (outside code blocks, lines joined, so that an inline
/// span may cross a line break) and its code blocks' lines.
fn split(text: &str) -> (String, Vec<String>) {
    let (mut prose, mut code, mut fence) = (String::new(), Vec::new(), false);
    for line in text.lines() {
        if line.trim_start().starts_with("```") {
            fence = !fence;
        } else if fence {
            code.push(line.to_string());
        } else {
            prose.push_str(line);
            prose.push('\n');
        }
    }
    (prose, code)
}

/// Inline code spans of `prose`.
fn spans(prose: &str) -> Vec<String> {
    prose
        .split('`')
        .skip(1)
        .step_by(2)
        .map(|s| s.replace('\n', " "))
        .collect()
}

/// Shell words, double quotes grouping.
fn words(line: &str) -> Vec<String> {
    let (mut out, mut word, mut quoted, mut any) = (Vec::new(), String::new(), false, false);
    for c in line.chars() {
        match c {
            '"' => {
                quoted = !quoted;
                any = true;
            }
            c if c.is_whitespace() && !quoted => {
                if any {
                    out.push(std::mem::take(&mut word));
                    any = false;
                }
            }
            c => {
                word.push(c);
                any = true;
            }
        }
    }
    if any {
        out.push(word);
    }
    out
}

/// The `cargo xtask` invocation a code line or span shows, if any: the
/// arguments up to a comment, a redirection or a pipe. `cargo xtask` alone
/// (the tool's name) and `cargo xtask …` (any command) are not invocations.
fn invocation(text: &str) -> Option<Vec<String>> {
    let text = text.trim().trim_start_matches("$ ");
    let args = text.strip_prefix("cargo xtask ")?;
    let args = [" #", " >", " |", " &&", " 2>"]
        .iter()
        .fold(args, |a, cut| a.split(cut).next().unwrap());
    let args = words(args);
    if args.is_empty() || args[0] == "…" {
        return None;
    }
    Some(args)
}

#[test]
fn every_cargo_xtask_line_in_the_docs_parses() {
    let root = xtask::workspace_root();
    let mut checked = 0;
    for page in pages() {
        let name = page.strip_prefix(&root).unwrap().display().to_string();
        let (prose, code) = split(&std::fs::read_to_string(&page).unwrap());
        let spans = spans(&prose);
        for (text, inline) in code
            .iter()
            .map(|c| (c, false))
            .chain(spans.iter().map(|s| (s, true)))
        {
            let Some(args) = invocation(text) else {
                continue;
            };
            // In a sentence, `cargo xtask ci` names the command: it must
            // exist, and need not be complete.
            if inline && args.len() == 1 {
                let cli = <Xtask as clap::CommandFactory>::command();
                assert!(
                    cli.find_subcommand(&args[0]).is_some(),
                    "{name}: `{}` names no command",
                    text.trim()
                );
                checked += 1;
                continue;
            }
            let argv = std::iter::once("cargo xtask".to_string()).chain(args);
            if let Err(e) = Xtask::try_parse_from(argv) {
                panic!("{name}: `{}` does not parse:\n{e}", text.trim());
            }
            checked += 1;
        }
    }
    assert!(checked > 40, "only {checked} commands found in the docs");
}

/// GitHub's heading anchors: lower case, punctuation dropped but for `-`
/// and `_`, spaces become `-`.
fn slug(heading: &str) -> String {
    heading
        .trim()
        .to_lowercase()
        .chars()
        .filter_map(|c| match c {
            ' ' => Some('-'),
            c if c.is_alphanumeric() || c == '-' || c == '_' => Some(c),
            _ => None,
        })
        .collect()
}

fn anchors(text: &str) -> Vec<String> {
    split(text)
        .0
        .lines()
        .filter_map(|l| l.strip_prefix('#'))
        .map(|h| slug(h.trim_start_matches('#')))
        .collect()
}

#[test]
fn every_relative_link_in_the_docs_resolves() {
    let root = xtask::workspace_root();
    let mut checked = 0;
    for page in pages() {
        let name = page.strip_prefix(&root).unwrap().display().to_string();
        let text = std::fs::read_to_string(&page).unwrap();
        let (prose, _) = split(&text);
        // `](target)`, as links and images write it.
        for part in prose.split("](").skip(1) {
            let target = part.split(')').next().unwrap().trim();
            if target.is_empty() || target.contains("://") || target.starts_with("mailto:") {
                continue;
            }
            let (file, anchor) = match target.split_once('#') {
                Some((f, a)) => (f, Some(a)),
                None => (target, None),
            };
            let path = if file.is_empty() {
                page.clone()
            } else {
                page.parent().unwrap().join(file)
            };
            assert!(
                path.exists(),
                "{name}: link to {target}: {} is missing",
                path.display()
            );
            if let Some(anchor) = anchor {
                let found = anchors(&std::fs::read_to_string(&path).unwrap());
                assert!(
                    found.iter().any(|a| a == anchor),
                    "{name}: link to {target}: no such heading (has {found:?})"
                );
            }
            checked += 1;
        }
    }
    assert!(checked > 20, "only {checked} links found");
}

#[test]
fn the_readme_is_one_screen_and_every_book_page_is_in_the_summary() {
    let root = xtask::workspace_root();
    let readme = std::fs::metadata(root.join("README.md")).unwrap().len();
    assert!(readme < 12 * 1024, "README.md is {readme} bytes");
    let src = root.join("docs/src");
    let summary = std::fs::read_to_string(src.join("SUMMARY.md")).unwrap();
    for page in pages().iter().filter(|p| p.starts_with(&src)) {
        let rel = page.strip_prefix(&src).unwrap().display().to_string();
        assert!(
            rel == "SUMMARY.md" || summary.contains(&format!("]({rel})")),
            "docs/src/{rel} is not in SUMMARY.md"
        );
    }
}
