//! Child processes: every program the workbench runs (cargo, the probe,
//! valgrind through the probe, criterion's executables) runs through here.
//!
//! Each child gets its own process group, so a Ctrl-C at the terminal
//! reaches only the workbench. The first Ctrl-C sets a flag; whatever
//! child is running is stopped with its whole group (cargo's rustc
//! processes too), and the command fails with [`Interrupted`], unwinding
//! through the guards that remove worktrees, scratch folders and
//! temporary files. Nothing half-written is ever renamed into place (see
//! `atomic.rs`), so an interrupted command leaves no partial cache entry.
//! A second Ctrl-C exits at once.

use anyhow::{Context, Result};
use std::io::{BufRead, BufReader, Read};
use std::os::unix::process::CommandExt;
use std::process::{Command, Output, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

static INTERRUPTED: AtomicBool = AtomicBool::new(false);

crate::message_error!(
    /// The user pressed Ctrl-C (exit code 130, as a shell reports SIGINT).
    Interrupted
);

/// Installs the Ctrl-C handler (once, in `main`).
pub fn on_interrupt() -> Result<()> {
    ctrlc::set_handler(|| {
        if INTERRUPTED.swap(true, Ordering::SeqCst) {
            eprintln!("\ninterrupted twice: exiting at once");
            std::process::exit(130);
        }
        eprintln!("\ninterrupted: stopping and cleaning up (Ctrl-C again to exit at once)");
    })
    .context("cannot install the Ctrl-C handler")
}

pub fn interrupted() -> bool {
    INTERRUPTED.load(Ordering::SeqCst)
}

/// Fails with [`Interrupted`] once Ctrl-C was pressed.
pub fn check() -> Result<()> {
    if interrupted() {
        anyhow::bail!(Interrupted("interrupted by Ctrl-C".into()));
    }
    Ok(())
}

/// How a child's standard error is handled.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stderr {
    /// Collected into the [`Output`].
    Capture,
    /// Shown to the user as it comes (cargo's progress).
    Show,
}

/// Runs `cmd` to completion and collects its output.
pub fn output(cmd: &mut Command, stderr: Stderr) -> Result<Output> {
    run(cmd, stderr, &mut |_| {})
}

/// Runs `cmd`, calling `line` for each line of its standard output as it
/// arrives (the output is also collected).
pub fn run(cmd: &mut Command, stderr: Stderr, line: &mut dyn FnMut(&str)) -> Result<Output> {
    check()?;
    let program = cmd.get_program().to_string_lossy().into_owned();
    cmd.stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(match stderr {
            Stderr::Capture => Stdio::piped(),
            Stderr::Show => Stdio::inherit(),
        })
        .process_group(0);
    let mut child = cmd
        .spawn()
        .with_context(|| format!("cannot run {program}"))?;
    let pid = child.id();
    let done = Arc::new(AtomicBool::new(false));
    // Stops the child's group when Ctrl-C is pressed while it runs.
    let watcher = {
        let done = done.clone();
        std::thread::spawn(move || {
            while !done.load(Ordering::SeqCst) {
                if interrupted() {
                    stop_group(pid);
                    return;
                }
                std::thread::sleep(Duration::from_millis(20));
            }
        })
    };
    let err_reader = child.stderr.take().map(|mut e| {
        std::thread::spawn(move || {
            let mut buf = Vec::new();
            let _ = e.read_to_end(&mut buf);
            buf
        })
    });
    let mut stdout = Vec::new();
    if let Some(out) = child.stdout.take() {
        let mut reader = BufReader::new(out);
        let mut buf = Vec::new();
        loop {
            buf.clear();
            match reader.read_until(b'\n', &mut buf) {
                Ok(0) | Err(_) => break,
                Ok(_) => {
                    line(String::from_utf8_lossy(&buf).trim_end_matches('\n'));
                    stdout.extend_from_slice(&buf);
                }
            }
        }
    }
    let status = child.wait();
    done.store(true, Ordering::SeqCst);
    let _ = watcher.join();
    let stderr = err_reader
        .map(|h| h.join().unwrap_or_default())
        .unwrap_or_default();
    check()?;
    Ok(Output {
        status: status.with_context(|| format!("cannot wait for {program}"))?,
        stdout,
        stderr,
    })
}

/// SIGTERM to the group, then SIGKILL to whatever is left after a grace
/// period (rustc and valgrind stop promptly on SIGTERM).
fn stop_group(pid: u32) {
    use nix::sys::signal::{Signal, killpg};
    use nix::unistd::Pid;
    let group = Pid::from_raw(pid as i32);
    if killpg(group, Signal::SIGTERM).is_err() {
        return;
    }
    for _ in 0..50 {
        std::thread::sleep(Duration::from_millis(20));
        if killpg(group, None).is_err() {
            return; // the group is gone
        }
    }
    let _ = killpg(group, Signal::SIGKILL);
}

/// The last `n` non-empty lines of a child's output, joined for a message.
pub fn last_lines(text: &[u8], n: usize) -> String {
    let text = String::from_utf8_lossy(text);
    let lines: Vec<&str> = text.lines().filter(|l| !l.trim().is_empty()).collect();
    lines[lines.len().saturating_sub(n)..].join(" | ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn output_and_lines_are_collected() {
        let mut seen = Vec::new();
        let out = run(
            Command::new("sh").args(["-c", "echo one; echo two; echo err >&2; exit 3"]),
            Stderr::Capture,
            &mut |l| seen.push(l.to_string()),
        )
        .unwrap();
        assert_eq!(seen, ["one", "two"]);
        assert_eq!(out.stdout, b"one\ntwo\n");
        assert_eq!(out.stderr, b"err\n");
        assert_eq!(out.status.code(), Some(3));
        assert_eq!(last_lines(b"a\n\nb\nc\n", 2), "b | c");
        let err = output(&mut Command::new("/no/such/program"), Stderr::Capture).unwrap_err();
        assert!(
            err.to_string().contains("cannot run /no/such/program"),
            "{err}"
        );
    }
}
