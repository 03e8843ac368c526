//! Running one arm as a child process and measuring it from the outside: wall time, and CPU
//! time and peak RSS from the kernel's own accounting of the child (`wait4`).
//!
//! Why `wait4` and not `/proc/<pid>` sampling: the rusage of a reaped child covers every thread
//! it ever had (a JVM's GC and compiler threads, the Go runtime's, librdkafka's broker threads)
//! up to its exit, while samples miss whatever happens after the last one. Rust's std has no
//! `wait4`, hence the one `unsafe` call below.

use std::fs::File;
use std::io::{IsTerminal, Read, Write};
use std::os::unix::process::ExitStatusExt;
use std::path::Path;
use std::process::{Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, Result};

/// What the kernel and the clock say about one finished child.
#[derive(Debug, Clone)]
pub(crate) struct Finished {
    pub(crate) status: ExitStatus,
    /// Everything it printed on stdout.
    pub(crate) stdout: String,
    /// Spawn to exit.
    pub(crate) wall: Duration,
    /// User plus system CPU time of all its threads.
    pub(crate) cpu: Duration,
    /// Peak resident set size (`ru_maxrss`), KiB.
    pub(crate) maxrss_kib: u64,
    /// Whether it was killed for running past its timeout.
    pub(crate) timed_out: bool,
}

/// The rusage fields we keep.
struct Usage {
    cpu: Duration,
    maxrss_kib: u64,
}

/// Runs `cmd` to completion with stdin closed, stdout captured, stderr appended to `log`,
/// printing `label` and the elapsed time on a progress line meanwhile; kills it after `timeout`.
pub(crate) fn run(
    cmd: &mut Command,
    label: &str,
    log: &Path,
    timeout: Duration,
) -> Result<Finished> {
    let mut log_file = File::options()
        .create(true)
        .append(true)
        .open(log)
        .with_context(|| format!("opening {}", log.display()))?;
    writeln!(log_file, "$ {cmd:?}")?;
    let started = Instant::now();
    let mut child = cmd
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(log_file.try_clone()?)
        .spawn()
        .with_context(|| format!("starting {cmd:?}"))?;
    let pid = i32::try_from(child.id()).context("pid out of range")?;
    let mut stdout = child.stdout.take().context("child stdout")?;
    let reader = std::thread::spawn(move || {
        let mut buf = Vec::new();
        let _ = stdout.read_to_end(&mut buf);
        String::from_utf8_lossy(&buf).into_owned()
    });

    let progress = Progress::new(label);
    let mut timed_out = false;
    let (status, usage) = loop {
        if let Some(done) = try_wait4(pid)? {
            break done;
        }
        let elapsed = started.elapsed();
        if elapsed > timeout && !timed_out {
            timed_out = true;
            // Not reaped yet (try_wait4 said so), so the pid is still this child's.
            let _ = child.kill();
        }
        progress.tick(elapsed);
        std::thread::sleep(Duration::from_millis(50));
    };
    let wall = started.elapsed();
    progress.done(wall);
    let stdout = reader.join().unwrap_or_default();
    writeln!(
        log_file,
        "--- stdout ---\n{stdout}--- {status} after {wall:.1?} ---"
    )?;
    Ok(Finished {
        status,
        stdout,
        wall,
        cpu: usage.cpu,
        maxrss_kib: usage.maxrss_kib,
        timed_out,
    })
}

/// `wait4(pid, WNOHANG)`: `None` while it runs, its status and rusage once it exited (reaped).
#[allow(unsafe_code)]
fn try_wait4(pid: i32) -> Result<Option<(ExitStatus, Usage)>> {
    loop {
        let mut status: libc::c_int = 0;
        // SAFETY: rusage is a plain C struct of integers, for which all-zero bytes are valid.
        let mut ru: libc::rusage = unsafe { std::mem::zeroed() };
        // SAFETY: both pointers are to live, writable locals of the types wait4 expects; it
        // writes nothing else.
        let r = unsafe { libc::wait4(pid, &mut status, libc::WNOHANG, &mut ru) };
        if r == 0 {
            return Ok(None);
        }
        if r == pid {
            let tv = |t: libc::timeval| {
                Duration::from_secs(t.tv_sec as u64) + Duration::from_micros(t.tv_usec as u64)
            };
            return Ok(Some((
                ExitStatus::from_raw(status),
                Usage {
                    cpu: tv(ru.ru_utime) + tv(ru.ru_stime),
                    maxrss_kib: ru.ru_maxrss as u64,
                },
            )));
        }
        let err = std::io::Error::last_os_error();
        if err.kind() != std::io::ErrorKind::Interrupted {
            return Err(err).context(format!("wait4({pid})"));
        }
    }
}

/// The one-line progress display on stderr: rewritten in place on a terminal, a line every 10 s
/// otherwise (CI logs).
struct Progress {
    label: String,
    tty: bool,
    last: std::cell::Cell<Duration>,
}

impl Progress {
    fn new(label: &str) -> Self {
        let p = Progress {
            label: label.to_string(),
            tty: std::io::stderr().is_terminal(),
            last: std::cell::Cell::new(Duration::ZERO),
        };
        if !p.tty {
            eprintln!("xtask bench: {label} ...");
        }
        p
    }

    fn tick(&self, elapsed: Duration) {
        let every = if self.tty {
            Duration::from_millis(200)
        } else {
            Duration::from_secs(10)
        };
        if elapsed < self.last.get() + every {
            return;
        }
        self.last.set(elapsed);
        if self.tty {
            eprint!(
                "\r\x1b[Kxtask bench: {} {:.1}s",
                self.label,
                elapsed.as_secs_f64()
            );
        } else {
            eprintln!("xtask bench: {} {:.0}s", self.label, elapsed.as_secs_f64());
        }
    }

    fn done(&self, wall: Duration) {
        if self.tty {
            eprint!("\r\x1b[K");
        }
        eprintln!(
            "xtask bench: {} done in {:.1}s",
            self.label,
            wall.as_secs_f64()
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn measures_a_child() {
        let dir = std::env::temp_dir().join(format!("xtask-bench-child-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let log = dir.join("log");
        // Two threads' worth of CPU would need more than sh; one busy loop is enough to see
        // CPU time counted, and a 40 MB allocation to see RSS.
        let mut cmd = Command::new("sh");
        cmd.args([
            "-c",
            "echo '{\"ok\":1}'; echo err >&2; i=0; while [ $i -lt 20000 ]; do i=$((i+1)); done; \
             head -c 40000000 /dev/zero | tr '\\0' x | sort >/dev/null",
        ]);
        let f = run(&mut cmd, "test child", &log, Duration::from_secs(60)).unwrap();
        assert!(f.status.success());
        assert_eq!(f.stdout, "{\"ok\":1}\n");
        assert!(!f.timed_out);
        assert!(f.cpu > Duration::ZERO, "{f:?}");
        // sort holds its 40 MB input in memory; it is a grandchild, counted because sh waits
        // for it.
        assert!(f.maxrss_kib > 30_000, "{f:?}");
        let log_text = std::fs::read_to_string(&log).unwrap();
        assert!(log_text.contains("err\n"), "{log_text}");

        let mut slow = Command::new("sleep");
        slow.arg("30");
        let f = run(&mut slow, "slow child", &log, Duration::from_millis(200)).unwrap();
        assert!(f.timed_out);
        assert!(!f.status.success());
        assert!(f.wall < Duration::from_secs(10));
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
