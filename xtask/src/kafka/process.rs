//! Detached JVM processes: starting them so they outlive `xtask`, finding them again by pid file
//! (checked against `/proc`, so a recycled pid is never taken for ours), and stopping them.

use std::fs::File;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, Result};

/// Starts `java <jvm_args> -cp <lib>/* <main_class> <config>` in a new session, its output
/// appended to `log`, and records its pid in `pid_file`.
///
/// Why `setsid`: the broker must survive `xtask` exiting and must not receive the terminal's
/// SIGINT/SIGHUP meant for `cargo`. `setsid` (the util-linux binary; `unsafe` `pre_exec` is
/// denied in this workspace) execs java in place, since a freshly spawned child is not a process
/// group leader, so the pid we get is java's. Its stdio goes to a file, never to our pipes: a
/// caller that captures our output (`xtask test` does) would otherwise wait for the broker to
/// close them.
pub(super) fn spawn_java(
    lib: &Path,
    jvm_args: &[String],
    main_class: &str,
    config: &Path,
    log: &Path,
    pid_file: &Path,
) -> Result<u32> {
    let log_file = File::options()
        .create(true)
        .append(true)
        .open(log)
        .with_context(|| format!("opening {}", log.display()))?;
    let child = Command::new("setsid")
        .arg("java")
        .args(jvm_args)
        .arg("-cp")
        .arg(format!("{}/*", lib.display()))
        .arg(main_class)
        .arg(config)
        .stdin(Stdio::null())
        .stdout(log_file.try_clone()?)
        .stderr(log_file)
        .spawn()
        .with_context(|| format!("starting {main_class} (are setsid and java on PATH?)"))?;
    let pid = child.id();
    // Not waited for: it is meant to outlive us (and is reaped by init once we exit).
    drop(child);
    std::fs::write(pid_file, format!("{pid}\n"))?;
    Ok(pid)
}

/// The pid recorded in `pid_file`, alive or not.
pub(super) fn recorded_pid(pid_file: &Path) -> Option<u32> {
    std::fs::read_to_string(pid_file).ok()?.trim().parse().ok()
}

/// The pid recorded in `pid_file` if that process is alive and its command line mentions
/// `marker` (the config file path, unique per process).
pub(super) fn running_pid(pid_file: &Path, marker: &Path) -> Option<u32> {
    let pid = recorded_pid(pid_file)?;
    (is_alive(pid) && cmdline_mentions(pid, marker)).then_some(pid)
}

/// Every live process whose command line mentions `marker`: catches brokers whose pid file was
/// lost (say, a `target/kafka` removed by hand while they ran).
pub(super) fn find_by_marker(marker: &Path) -> Vec<u32> {
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    let me = std::process::id();
    entries
        .filter_map(|e| e.ok()?.file_name().to_str()?.parse::<u32>().ok())
        .filter(|&pid| pid != me && is_alive(pid) && cmdline_mentions(pid, marker))
        .collect()
}

/// Alive and not a zombie (a child we started and killed in this run stays a zombie until we
/// exit).
pub(super) fn is_alive(pid: u32) -> bool {
    let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else {
        return false;
    };
    // The state follows the parenthesised command name, which may itself hold spaces.
    let state = stat
        .rsplit_once(')')
        .and_then(|(_, rest)| rest.trim_start().chars().next());
    !matches!(state, None | Some('Z') | Some('X'))
}

fn cmdline_mentions(pid: u32, marker: &Path) -> bool {
    let Ok(raw) = std::fs::read(format!("/proc/{pid}/cmdline")) else {
        return false;
    };
    let marker = marker.to_string_lossy();
    raw.split(|&b| b == 0)
        .any(|arg| String::from_utf8_lossy(arg) == marker)
}

/// Sends SIGTERM to every pid, waits up to `grace` for all to exit (polling), then SIGKILLs
/// whatever is left and waits for that too. Returns the pids that needed SIGKILL.
pub(super) fn stop(pids: &[u32], grace: Duration) -> Result<Vec<u32>> {
    if pids.is_empty() {
        return Ok(Vec::new());
    }
    signal("TERM", pids)?;
    let deadline = Instant::now() + grace;
    while Instant::now() < deadline && pids.iter().any(|&p| is_alive(p)) {
        std::thread::sleep(Duration::from_millis(200));
    }
    let left: Vec<u32> = pids.iter().copied().filter(|&p| is_alive(p)).collect();
    if !left.is_empty() {
        signal("KILL", &left)?;
        let deadline = Instant::now() + Duration::from_secs(10);
        while Instant::now() < deadline && left.iter().any(|&p| is_alive(p)) {
            std::thread::sleep(Duration::from_millis(100));
        }
    }
    Ok(left)
}

fn signal(sig: &str, pids: &[u32]) -> Result<()> {
    // Errors are ignored on purpose: a process may exit between our check and the signal.
    let _ = Command::new("kill")
        .arg(format!("-{sig}"))
        .args(pids.iter().map(u32::to_string))
        .stderr(Stdio::null())
        .status()
        .context("running kill")?;
    Ok(())
}

/// The last `n` lines of a log file (or a note that there is none).
pub(super) fn tail(path: &Path, n: usize) -> String {
    match std::fs::read(path) {
        Ok(bytes) => {
            let text = String::from_utf8_lossy(&bytes);
            let lines: Vec<&str> = text.lines().collect();
            lines[lines.len().saturating_sub(n)..].join("\n")
        }
        Err(e) => format!("(no log at {}: {e})", path.display()),
    }
}
