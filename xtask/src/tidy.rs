//! Tidy rules the workspace keeps, checked by `cargo test`: every Rust
//! source file says what it is for in a `//!` comment on its first line,
//! and every folder the workbench generates under `profiles/` is ignored
//! by git and holds no committed file.

#[cfg(test)]
mod tests {
    use std::path::{Path, PathBuf};

    fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
        for e in std::fs::read_dir(dir).unwrap().flatten() {
            let p = e.path();
            if p.is_dir() {
                rust_files(&p, out);
            } else if p.extension().is_some_and(|x| x == "rs") {
                out.push(p);
            }
        }
    }

    #[test]
    fn every_source_file_opens_with_a_module_comment() {
        let root = crate::workspace_root();
        let mut files = Vec::new();
        for dir in [
            "xtask/src",
            "xtask/tests",
            "zp/src",
            "zp/benches",
            "zp/tests",
            "probe-protocol/src",
        ] {
            rust_files(&root.join(dir), &mut files);
        }
        assert!(files.len() > 30, "found only {} files", files.len());
        let bare: Vec<String> = files
            .iter()
            .filter(|f| {
                !std::fs::read_to_string(f)
                    .unwrap()
                    .lines()
                    .next()
                    .is_some_and(|l| l.starts_with("//!"))
            })
            .map(|f| f.strip_prefix(&root).unwrap().display().to_string())
            .collect();
        assert!(
            bare.is_empty(),
            "files without a `//!` first line: {bare:?}"
        );
    }

    #[test]
    fn every_generated_folder_is_ignored_and_holds_no_committed_file() {
        let root = crate::workspace_root();
        let repo = git2::Repository::open(&root).unwrap();
        for folder in crate::storage::store::GENERATED {
            let path = format!("profiles/{folder}/x.json");
            assert!(
                repo.is_path_ignored(Path::new(&path)).unwrap(),
                "profiles/{folder}/ is not ignored by git"
            );
        }
        let index = repo.index().unwrap();
        let committed: Vec<String> = index
            .iter()
            .map(|e| String::from_utf8_lossy(&e.path).into_owned())
            .filter(|p| p.starts_with("profiles/") && p != "profiles/budgets.toml")
            .collect();
        assert!(
            committed.is_empty(),
            "generated files are committed: {committed:?}"
        );
        assert!(
            !repo
                .is_path_ignored(Path::new("profiles/budgets.toml"))
                .unwrap(),
            "the budgets must stay committed"
        );
    }
}
