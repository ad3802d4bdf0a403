//! Where a built binary's workspace crates were compiled, from its DWARF:
//! every compile unit records the folder rustc ran in (`DW_AT_comp_dir`,
//! the workspace root for a workspace member), even under
//! `debug = "line-tables-only"`.
//!
//! cargo decides that an artifact is up to date by comparing file times,
//! and names artifacts by paths relative to the workspace, so two checkouts
//! sharing one target directory (`CARGO_TARGET_DIR`, `build.target-dir`)
//! take each other's builds: a checkout whose files are older than the
//! other's last build gets that build's zp, silently. Reading where the
//! binary's zp was compiled tells it.

use anyhow::{Context, Result};
use std::borrow::Cow;
use std::collections::BTreeSet;
use std::path::Path;

/// The folders the compile units of `member` (its path in the workspace,
/// as rustc names it: `zp/`) were compiled in, or `None` when the binary
/// carries no readable DWARF (no debug info, or compressed sections).
pub fn compile_dirs(exe: &Path, member: &str) -> Result<Option<BTreeSet<String>>> {
    let bytes = std::fs::read(exe).with_context(|| format!("cannot read {}", exe.display()))?;
    compile_dirs_in(&bytes, member)
        .with_context(|| format!("cannot read the DWARF of {}", exe.display()))
}

fn compile_dirs_in(bytes: &[u8], member: &str) -> Result<Option<BTreeSet<String>>> {
    use object::{Object, ObjectSection};
    let file = object::File::parse(bytes)?;
    let Some(info) = file.section_by_name(".debug_info") else {
        return Ok(None);
    };
    if info.compressed_file_range()?.format != object::CompressionFormat::None {
        return Ok(None);
    }
    let load = |id: gimli::SectionId| -> std::result::Result<Cow<[u8]>, gimli::Error> {
        Ok(file
            .section_by_name(id.name())
            .and_then(|s| s.data().ok())
            .map_or(Cow::Borrowed(&[][..]), Cow::Borrowed))
    };
    let sections = gimli::DwarfSections::load(load)?;
    let endian = if file.is_little_endian() {
        gimli::RunTimeEndian::Little
    } else {
        gimli::RunTimeEndian::Big
    };
    let dwarf = sections.borrow(|s| gimli::EndianSlice::new(s, endian));
    let mut dirs = BTreeSet::new();
    let mut units = dwarf.units();
    while let Some(header) = units.next()? {
        let unit = dwarf.unit(header)?;
        let name = unit.name.map(|n| n.to_string_lossy().into_owned());
        if !name.is_some_and(|n| n.starts_with(member)) {
            continue;
        }
        if let Some(dir) = unit.comp_dir {
            dirs.insert(dir.to_string_lossy().into_owned());
        }
    }
    Ok(Some(dirs))
}

/// Where `member`'s crates in `exe` were compiled, when that is not
/// `root`: the binary is another checkout's build. `None` when they were
/// compiled in `root`, or when the binary carries no DWARF to tell.
pub fn compiled_elsewhere(exe: &Path, root: &Path, member: &str) -> Result<Option<String>> {
    Ok(compile_dirs(exe, member)?.and_then(|dirs| elsewhere(dirs, root)))
}

/// The first of `dirs` that is not `root` (by canonical path: a symlink to
/// the checkout is the checkout).
fn elsewhere(dirs: BTreeSet<String>, root: &Path) -> Option<String> {
    let canonical = |p: &Path| std::fs::canonicalize(p).unwrap_or_else(|_| p.to_path_buf());
    let here = canonical(root);
    dirs.into_iter().find(|d| canonical(Path::new(d)) != here)
}

/// Refuses a benchmark binary cargo built for the checkout `root` whose zp
/// was compiled in another checkout (exit 2, with what to do); says so
/// when the binary cannot tell.
pub fn check_checkout_build(exe: &Path, root: &Path) -> Result<()> {
    let Some(dirs) = compile_dirs(exe, "zp/")?.filter(|d| !d.is_empty()) else {
        eprintln!(
            "note: {} carries no debug info naming where its zp was compiled, so the workbench cannot check that cargo built it from this checkout (the bench profile's `debug = \"line-tables-only\"` gives it)",
            exe.display()
        );
        return Ok(());
    };
    if let Some(other) = elsewhere(dirs, root) {
        anyhow::bail!(crate::Usage(format!(
            "cargo handed over {} as up to date, but its zp was compiled in {other}, not in this checkout ({}): the two share a target directory and cargo, which judges freshness by file times, took the other checkout's newer build. Run `touch zp/src/lib.rs` here (cargo then rebuilds zp from these files) and run again, or give each checkout its own CARGO_TARGET_DIR",
            exe.display(),
            root.display()
        )));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn this_test_binary_names_the_workspace_it_was_compiled_in() {
        let exe = std::env::current_exe().unwrap();
        let root = crate::workspace_root();
        let dirs = compile_dirs(&exe, "xtask/")
            .unwrap()
            .expect("tests carry DWARF");
        let canonical: BTreeSet<_> = dirs
            .iter()
            .map(|d| std::fs::canonicalize(d).unwrap())
            .collect();
        assert_eq!(
            canonical,
            BTreeSet::from([std::fs::canonicalize(&root).unwrap()])
        );
        assert_eq!(compiled_elsewhere(&exe, &root, "xtask/").unwrap(), None);
        let other = tempfile::tempdir().unwrap();
        assert_eq!(
            compiled_elsewhere(&exe, other.path(), "xtask/")
                .unwrap()
                .map(|d| std::fs::canonicalize(d).unwrap()),
            Some(std::fs::canonicalize(&root).unwrap())
        );
        // A member the binary does not hold: nothing to object to.
        assert_eq!(
            compiled_elsewhere(&exe, other.path(), "no-such-member/").unwrap(),
            None
        );
    }

    #[test]
    fn a_checkout_build_cargo_took_from_another_checkout_is_refused() {
        // Two copies of the miniature zp in one target directory: A builds,
        // then B, whose files were written before A's build. cargo hands B
        // A's artifacts as fresh.
        let a = crate::fixtures::mini_history(true);
        let b = crate::fixtures::mini_history(false);
        let build = crate::fixtures::checkout_probe;
        // Other tests build miniature zps into the same target directory at
        // the same time (CI found one handed to A): A's own build is made
        // sure of by touching its sources first, up to three times.
        let exe_a = (0..3)
            .find_map(|_| {
                std::fs::File::options()
                    .append(true)
                    .open(a.root().join("zp/src/lib.rs"))
                    .and_then(|f| f.set_modified(std::time::SystemTime::now()))
                    .unwrap();
                let exe = build(&a);
                check_checkout_build(&exe, a.root()).ok().map(|_| exe)
            })
            .expect("a build of A's own files");
        assert!(check_checkout_build(&exe_a, a.root()).is_ok());
        // B's files are older than A's build: cargo hands B a build of
        // another checkout's files (A's, or another test's).
        let exe_b = build(&b);
        let err = check_checkout_build(&exe_b, b.root()).unwrap_err();
        assert!(err.is::<crate::Usage>(), "{err:#}");
        let text = err.to_string();
        assert!(text.contains("touch zp/src/lib.rs"), "{text}");
        let b_root = std::fs::canonicalize(b.root()).unwrap();
        let (_, compiled_in) = text.split_once("compiled in ").expect("says where");
        let compiled_in = compiled_in.split(',').next().unwrap();
        assert!(
            !compiled_in.starts_with(&b_root.display().to_string())
                && !compiled_in.starts_with(&b.root().display().to_string()),
            "names another checkout as where it was compiled: {text}"
        );
    }
}
