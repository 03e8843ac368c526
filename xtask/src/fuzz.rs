//! `cargo xtask fuzz`: runs kafkaex-protocol's cargo-fuzz targets for a bounded time each.
//!
//! The targets live in `kafkaex-protocol/fuzz` (a workspace of its own). Fuzzing needs nightly
//! and cargo-fuzz (`cargo install cargo-fuzz`), for the coverage instrumentation and the
//! sanitizer; CI does not fuzz, it only builds the targets on stable (`xtask ci`).
//!
//! - `cargo xtask fuzz [--seconds N] [TARGET...]` builds the targets once with
//!   `cargo +nightly fuzz build`, runs each (default: all) for N seconds (default 60) the way
//!   `cargo fuzz run` does, one after the other so they do not compete for cores, then prints a
//!   table of executions, corpus size and peak memory per target, and fails if any crashed.
//!   Crashing inputs are in `kafkaex-protocol/fuzz/artifacts/<target>/`, full logs in
//!   `kafkaex-protocol/fuzz/target/fuzz-logs/<target>.log`.
//! - `cargo xtask fuzz --build` builds the targets exactly as a run would, without running.
//! - `cargo xtask fuzz seed` (re)writes the seed inputs into `fuzz/corpus/<target>/`; a run seeds
//!   an empty corpus by itself.
//! - `cargo xtask fuzz list` lists the targets.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Instant;

use anyhow::{bail, Context, Result};

use crate::workspace_root;

/// Every target with the largest input libFuzzer may generate for it. Messages are small;
/// records and compressed data get room for a few batches or blocks.
const TARGETS: &[(&str, usize)] = &[
    ("response_decode", 16 * 1024),
    ("request_decode", 16 * 1024),
    ("record_batch", 64 * 1024),
    ("message_set", 64 * 1024),
    ("decompress_gzip", 64 * 1024),
    ("decompress_snappy", 64 * 1024),
    ("decompress_lz4", 64 * 1024),
    ("decompress_zstd", 64 * 1024),
];

/// `cargo fuzz` options shared by build and run, so a run never rebuilds what `--build` built.
/// Debug assertions (and with them overflow checks) turn silent wrap-arounds into findings.
const BUILD_FLAGS: &[&str] = &["--debug-assertions"];

/// libFuzzer options for every run. A single allocation above `malloc_limit_mb` from inputs of
/// at most 64 KiB decompressed under a 1 MiB cap can only come from trusting a length field, so
/// it counts as a crash; `timeout` catches inputs that make a decoder spin.
const LIBFUZZER_FLAGS: &[&str] = &[
    "-rss_limit_mb=2048",
    "-malloc_limit_mb=256",
    "-timeout=20",
    "-print_final_stats=1",
];

const DEFAULT_SECONDS: u64 = 60;

/// `cargo xtask fuzz ...`.
pub(crate) fn run(args: &[String]) -> Result<()> {
    let mut seconds = DEFAULT_SECONDS;
    let mut build_only = false;
    let mut targets: Vec<&'static str> = Vec::new();
    let mut it = args.iter();
    while let Some(arg) = it.next() {
        match arg.as_str() {
            "--seconds" => {
                let n = it.next().context("--seconds needs a number")?;
                seconds = n
                    .parse()
                    .with_context(|| format!("--seconds {n:?} is not a number"))?;
            }
            "--build" => build_only = true,
            "seed" => return seed(),
            "list" => {
                for (name, _) in TARGETS {
                    println!("{name}");
                }
                return Ok(());
            }
            "help" | "--help" | "-h" => {
                eprintln!(
                    "usage: cargo xtask fuzz [--seconds N] [TARGET...] | --build | seed | list"
                );
                return Ok(());
            }
            name => match TARGETS.iter().find(|(t, _)| *t == name) {
                Some((t, _)) => targets.push(t),
                None => bail!(
                    "unknown fuzz target {name:?}; targets: {}",
                    TARGETS
                        .iter()
                        .map(|(t, _)| *t)
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
            },
        }
    }
    if targets.is_empty() {
        targets = TARGETS.iter().map(|(t, _)| *t).collect();
    }
    build()?;
    if build_only {
        return Ok(());
    }
    let crate_dir = workspace_root().join("kafkaex-protocol");
    let corpus = crate_dir.join("fuzz/corpus");
    if targets.iter().any(|t| dir_is_empty(&corpus.join(t))) {
        seed()?;
    }
    let mut results = Vec::new();
    for target in targets {
        results.push(run_target(&crate_dir, target, seconds)?);
    }
    print_summary(&results);
    let crashed: Vec<&str> = results.iter().filter(|r| !r.ok).map(|r| r.target).collect();
    if !crashed.is_empty() {
        bail!(
            "fuzz targets crashed: {} (inputs in kafkaex-protocol/fuzz/artifacts/)",
            crashed.join(", ")
        );
    }
    Ok(())
}

/// `cargo +nightly fuzz build` of every target.
fn build() -> Result<()> {
    let crate_dir = workspace_root().join("kafkaex-protocol");
    let mut cmd = Command::new("cargo");
    cmd.args(["+nightly", "fuzz", "build"])
        .args(BUILD_FLAGS)
        .current_dir(&crate_dir);
    eprintln!("xtask fuzz: {}", show(&cmd));
    let t = Instant::now();
    let status = cmd
        .status()
        .context("running cargo +nightly fuzz (install it with `cargo install cargo-fuzz`)")?;
    if !status.success() {
        bail!("building the fuzz targets failed (needs nightly and cargo-fuzz)");
    }
    eprintln!("xtask fuzz: built in {:.0?}", t.elapsed());
    Ok(())
}

/// Writes the seed inputs with the fuzz crate's `seeds` example (built on the default
/// toolchain: it is plain Rust, no instrumentation).
fn seed() -> Result<()> {
    let root = workspace_root();
    let mut cmd = Command::new("cargo");
    cmd.args([
        "run",
        "--quiet",
        "--manifest-path",
        "kafkaex-protocol/fuzz/Cargo.toml",
        "--example",
        "seeds",
        "--",
        "kafkaex-protocol/fuzz/corpus",
        "kafkaex-protocol/tests/fixtures/records",
    ])
    .current_dir(&root);
    eprintln!("xtask fuzz: {}", show(&cmd));
    let status = cmd.status().context("running the seeds example")?;
    if !status.success() {
        bail!("writing the fuzz seeds failed");
    }
    Ok(())
}

fn dir_is_empty(dir: &Path) -> bool {
    std::fs::read_dir(dir).map_or(true, |mut d| d.next().is_none())
}

/// What one target's run came to.
struct Outcome {
    target: &'static str,
    /// Seconds libFuzzer ran (wall time, build included, if it died before saying).
    seconds: f64,
    /// `stat::number_of_executed_units`, or the last status line's count if the run died first.
    execs: Option<u64>,
    corpus: Option<u64>,
    peak_rss_mb: Option<u64>,
    ok: bool,
    /// The crashing input libFuzzer saved, if it said where.
    artifact: Option<String>,
}

fn run_target(crate_dir: &Path, target: &'static str, seconds: u64) -> Result<Outcome> {
    let max_len = TARGETS
        .iter()
        .find(|(t, _)| *t == target)
        .map(|(_, l)| *l)
        .expect("target was checked against TARGETS");
    let logs = crate_dir.join("fuzz/target/fuzz-logs");
    std::fs::create_dir_all(&logs).with_context(|| format!("creating {}", logs.display()))?;
    let log_path = logs.join(format!("{target}.log"));
    let log = std::fs::File::create(&log_path)
        .with_context(|| format!("creating {}", log_path.display()))?;
    // What `cargo fuzz run` would execute, minus the rebuild it starts with: every target then
    // fuzzes the one snapshot of the sources `build` compiled, even while they are being
    // edited, and no run spends minutes recompiling.
    let binary = fuzz_binary(crate_dir, target)?;
    let artifacts = crate_dir.join("fuzz/artifacts").join(target);
    let corpus = crate_dir.join("fuzz/corpus").join(target);
    for dir in [&artifacts, &corpus] {
        std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    }
    let mut cmd = Command::new(&binary);
    cmd.arg(format!("-artifact_prefix={}/", artifacts.display()))
        .arg(format!("-max_total_time={seconds}"))
        .arg(format!("-max_len={max_len}"))
        .args(LIBFUZZER_FLAGS)
        .arg(&corpus)
        .current_dir(crate_dir)
        .stdout(Stdio::null())
        .stderr(log);
    eprintln!(
        "xtask fuzz: {target} for {seconds} s: {} (log: {})",
        show(&cmd),
        log_path.display()
    );
    let t = Instant::now();
    let status = cmd
        .status()
        .with_context(|| format!("running {}", binary.display()))?;
    let elapsed = t.elapsed().as_secs_f64();
    let text = std::fs::read_to_string(&log_path).unwrap_or_default();
    let outcome = Outcome {
        target,
        seconds: fuzz_seconds(&text).unwrap_or(elapsed),
        execs: stat(&text, "stat::number_of_executed_units:").or_else(|| last_exec_count(&text)),
        corpus: last_corpus_size(&text),
        peak_rss_mb: stat(&text, "stat::peak_rss_mb:"),
        ok: status.success(),
        artifact: text
            .lines()
            .find_map(|l| l.split_once("Test unit written to "))
            .map(|(_, p)| p.trim().to_string()),
    };
    if !outcome.ok {
        eprintln!("xtask fuzz: {target} FAILED ({status}); end of its log:");
        let lines: Vec<&str> = text.lines().collect();
        for l in &lines[lines.len().saturating_sub(40)..] {
            eprintln!("  | {l}");
        }
    }
    Ok(outcome)
}

/// The instrumented binary `cargo fuzz build` made for `target`
/// (`fuzz/target/<host triple>/release/<target>`).
fn fuzz_binary(crate_dir: &Path, target: &str) -> Result<PathBuf> {
    let dir = crate_dir.join("fuzz/target");
    let entries = std::fs::read_dir(&dir).with_context(|| format!("reading {}", dir.display()))?;
    entries
        .filter_map(|e| e.ok())
        .map(|e| e.path().join("release").join(target))
        .find(|p| p.is_file())
        .with_context(|| format!("no fuzz binary for {target} under {}", dir.display()))
}

/// The value of libFuzzer's final-stats line `name value`.
fn stat(log: &str, name: &str) -> Option<u64> {
    log.lines()
        .rev()
        .find_map(|l| l.trim().strip_prefix(name))
        .and_then(|v| v.trim().parse().ok())
}

/// The seconds of libFuzzer's `Done 123 runs in 61 second(s)` line.
fn fuzz_seconds(log: &str) -> Option<f64> {
    log.lines().rev().find_map(|l| {
        let (_, rest) = l.strip_prefix("Done ")?.split_once(" runs in ")?;
        rest.split_whitespace().next()?.parse().ok()
    })
}

/// The execution count of the last status line (`#1234\tpulse  cov: ...`).
fn last_exec_count(log: &str) -> Option<u64> {
    log.lines().rev().find_map(|l| {
        let n = l.strip_prefix('#')?.split_whitespace().next()?;
        n.parse().ok()
    })
}

/// The corpus size of the last status line that reports one (`corp: 412/37Kb`).
fn last_corpus_size(log: &str) -> Option<u64> {
    log.lines().rev().find_map(|l| {
        let (_, rest) = l.split_once("corp: ")?;
        rest.split('/').next()?.parse().ok()
    })
}

fn print_summary(results: &[Outcome]) {
    let opt = |v: Option<u64>| v.map_or_else(|| "?".to_string(), |v| v.to_string());
    println!(
        "\n{:<20} {:>8} {:>12} {:>9} {:>7} {:>8}  result",
        "target", "seconds", "executions", "exec/s", "corpus", "rss MB"
    );
    for r in results {
        let rate = r.execs.map_or_else(
            || "?".to_string(),
            |e| format!("{:.0}", e as f64 / r.seconds),
        );
        let result = if r.ok {
            "ok".to_string()
        } else {
            format!("CRASH {}", r.artifact.as_deref().unwrap_or("(see the log)"))
        };
        println!(
            "{:<20} {:>8.0} {:>12} {:>9} {:>7} {:>8}  {}",
            r.target,
            r.seconds,
            opt(r.execs),
            rate,
            opt(r.corpus),
            opt(r.peak_rss_mb),
            result
        );
    }
}

/// A command as a shell line, for the log.
fn show(cmd: &Command) -> String {
    let mut s = cmd.get_program().to_string_lossy().into_owned();
    for a in cmd.get_args() {
        s.push(' ');
        s.push_str(&a.to_string_lossy());
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    const LOG: &str = "\
#2\tINITED cov: 10 ft: 10 corp: 1/1b exec/s: 0 rss: 30Mb
#4096\tpulse  cov: 812 ft: 2301 corp: 412/37Kb lim: 4096 exec/s: 2048 rss: 80Mb
Done 123456 runs in 61 second(s)
stat::number_of_executed_units: 123456
stat::average_exec_per_sec:     2023
stat::new_units_added:          1234
stat::slowest_unit_time_sec:    0
stat::peak_rss_mb:              97
";

    #[test]
    fn reads_final_stats() {
        assert_eq!(stat(LOG, "stat::number_of_executed_units:"), Some(123456));
        assert_eq!(stat(LOG, "stat::peak_rss_mb:"), Some(97));
        assert_eq!(last_corpus_size(LOG), Some(412));
        assert_eq!(last_exec_count(LOG), Some(4096));
        assert_eq!(fuzz_seconds(LOG), Some(61.0));
        assert_eq!(stat("no stats here", "stat::peak_rss_mb:"), None);
    }

    #[test]
    fn every_target_has_a_fuzz_binary() {
        let manifest =
            std::fs::read_to_string(workspace_root().join("kafkaex-protocol/fuzz/Cargo.toml"))
                .expect("the fuzz crate exists");
        for (t, _) in TARGETS {
            assert!(
                manifest.contains(&format!("name = \"{t}\"")),
                "{t} is not a [[bin]] of kafkaex-protocol/fuzz"
            );
        }
    }
}
