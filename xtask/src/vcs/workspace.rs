//! Which checkout the workbench acts on, decided at run time.
//!
//! The workspace is the one that contains the current directory (the
//! nearest ancestor whose `Cargo.toml` has a `[workspace]` table, as cargo
//! finds it) and it must hold `profiles/budgets.toml`. Nothing is compiled
//! in: two clones sharing a target directory (`CARGO_TARGET_DIR`, or
//! `build.target-dir` in a cargo config) get the same `xtask` artifact
//! name, and cargo can run one clone's binary in the other (measured: with
//! two identical clones, `cargo xtask` in B ran the binary built in A,
//! because cargo held B's artifact fresh). Such a binary is refused:
//! `cargo run` tells it which package it was run for, and a binary built
//! from another checkout says so and how to rebuild.

use anyhow::{Context, Result, bail};
use std::path::{Path, PathBuf};

/// The zp workspace that contains `cwd`.
pub fn discover(cwd: &Path) -> Result<PathBuf> {
    for dir in cwd.ancestors() {
        let manifest = dir.join("Cargo.toml");
        let Ok(text) = std::fs::read_to_string(&manifest) else {
            continue;
        };
        let table: toml::Table = toml::from_str(&text)
            .map_err(|e| crate::Usage(format!("{} does not parse: {e}", manifest.display())))?;
        if !table.contains_key("workspace") {
            continue;
        }
        if !dir.join("profiles/budgets.toml").is_file() {
            bail!(crate::Usage(format!(
                "{} is a cargo workspace but not the zp workbench's: it has no profiles/budgets.toml",
                dir.display()
            )));
        }
        return Ok(dir.to_path_buf());
    }
    bail!(crate::Usage(format!(
        "{} is not inside a checkout of zp: run `cargo xtask` from the workspace (the folder with profiles/budgets.toml) or below it",
        cwd.display()
    )))
}

/// Refuses a binary built from one checkout and run by cargo for another.
/// `built_from` is the xtask package this binary was compiled from;
/// `run_for` the one cargo says it ran (`CARGO_MANIFEST_DIR` at run time,
/// absent when the binary is started directly); `root` the workspace found
/// from the current directory.
pub fn check_binary(root: &Path, built_from: &Path, run_for: Option<&Path>) -> Result<()> {
    let Some(run_for) = run_for else {
        return Ok(());
    };
    let canon = |p: &Path| p.canonicalize().unwrap_or_else(|_| p.to_path_buf());
    if canon(run_for) != canon(built_from) {
        bail!(crate::Usage(format!(
            "this xtask binary was built from {} but cargo ran it for {}: the two checkouts share a target directory and cargo took the other checkout's binary for this one's. Make cargo rebuild it: `touch {}` and run the command again",
            built_from.display(),
            run_for.display(),
            run_for.join("src/main.rs").display()
        )));
    }
    if let Some(cargo_root) = run_for.parent()
        && canon(cargo_root) != canon(root)
    {
        bail!(crate::Usage(format!(
            "cargo ran the xtask of {} but the current directory belongs to {}: run the command from one checkout",
            cargo_root.display(),
            root.display()
        )));
    }
    Ok(())
}

/// The target directory cargo builds `root` into, as cargo resolves it
/// (`CARGO_TARGET_DIR`, `build.target-dir` in any cargo config, or
/// `target/`): asked of `cargo metadata`, not guessed.
pub fn target_dir(root: &Path) -> Result<PathBuf> {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let out = crate::process::output(
        std::process::Command::new(&cargo).current_dir(root).args([
            "metadata",
            "--format-version",
            "1",
            "--no-deps",
            "--offline",
        ]),
        crate::process::Stderr::Capture,
    )?;
    if !out.status.success() {
        bail!(
            "`cargo metadata` failed in {}: {}",
            root.display(),
            crate::process::last_lines(&out.stderr, 3)
        );
    }
    let v: serde_json::Value =
        serde_json::from_slice(&out.stdout).context("`cargo metadata` printed no JSON")?;
    v["target_directory"]
        .as_str()
        .map(PathBuf::from)
        .context("`cargo metadata` named no target directory")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_workspace_is_found_from_any_folder_below_it() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().join("clone");
        std::fs::create_dir_all(root.join("zp/src")).unwrap();
        std::fs::create_dir_all(root.join("profiles")).unwrap();
        std::fs::write(root.join("Cargo.toml"), "[workspace]\nmembers = [\"zp\"]\n").unwrap();
        std::fs::write(root.join("zp/Cargo.toml"), "[package]\nname = \"zp\"\n").unwrap();
        std::fs::write(root.join("profiles/budgets.toml"), "").unwrap();
        assert_eq!(discover(&root.join("zp/src")).unwrap(), root);
        assert_eq!(discover(&root).unwrap(), root);
        let err = discover(dir.path()).unwrap_err();
        assert!(
            err.is::<crate::Usage>() && err.to_string().contains("not inside a checkout of zp"),
            "{err}"
        );
        std::fs::remove_file(root.join("profiles/budgets.toml")).unwrap();
        let err = discover(&root.join("zp")).unwrap_err().to_string();
        assert!(err.contains("no profiles/budgets.toml"), "{err}");
    }

    #[test]
    fn a_binary_run_for_another_checkout_is_refused() {
        let (a, b) = (Path::new("/src/a"), Path::new("/src/b"));
        check_binary(a, &a.join("xtask"), None).unwrap();
        check_binary(a, &a.join("xtask"), Some(&a.join("xtask"))).unwrap();
        let err = check_binary(b, &a.join("xtask"), Some(&b.join("xtask"))).unwrap_err();
        assert!(err.is::<crate::Usage>(), "{err}");
        let msg = err.to_string();
        assert!(
            msg.contains("built from /src/a/xtask but cargo ran it for /src/b/xtask")
                && msg.contains("touch /src/b/xtask/src/main.rs"),
            "{msg}"
        );
        let err = check_binary(b, &a.join("xtask"), Some(&a.join("xtask"))).unwrap_err();
        assert!(err.to_string().contains("belongs to /src/b"), "{err}");
    }

    #[test]
    fn the_target_directory_is_cargos() {
        let root = crate::workspace_root();
        let t = target_dir(&root).unwrap();
        let expected =
            std::env::var_os("CARGO_TARGET_DIR").map_or_else(|| root.join("target"), PathBuf::from);
        assert_eq!(t, expected);
    }
}
