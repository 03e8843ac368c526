//! `cargo xtask test` (the README's test command) and `cargo xtask ci` (what `.ci/run` runs).
//!
//! `test` starts the broker profiles the integration tests need, runs the whole workspace test
//! suite against them with the `KAFKAEX_*` variables set, and stops the brokers again, also when
//! the tests fail. `ci` adds the static checks (fmt, clippy, codegen freshness, fuzz targets and
//! benches build, the franz-go bench arm's tests) in front of `test`.

use std::path::Path;
use std::process::Command;
use std::time::Instant;

use anyhow::{bail, Context, Result};

use crate::workspace_root;

/// Features the checks and tests build with, one set for clippy and tests so the workspace is
/// built once for the tests:
/// - the testcontainers broker provider cannot run here (no Docker engine), but it must
///   compile, pass clippy, and its unit tests (a typed error without Docker) run with the rest;
/// - with `crc-fast`, every record test (golden bytes, Java interop) runs on that CRC32C, and a
///   unit test checks it against the default `crc32c` crate at every length and alignment; the
///   default build is compiled by the fuzz and bench steps.
const TEST_FEATURES: &str = "kafkaex-testkit/testcontainers,kafkaex-protocol/crc-fast";

/// Broker profiles the test suite needs, in start order.
const TEST_PROFILES: &[&str] = &["kraft", "zk", "legacy", "cluster", "secure"];

pub(crate) fn run_ci(args: &[String]) -> Result<()> {
    let started = Instant::now();
    let root = workspace_root();
    step(
        &root,
        "cargo fmt --check",
        "cargo",
        &["fmt", "--all", "--check"],
    )?;
    step(
        &root,
        "cargo clippy",
        "cargo",
        &[
            "clippy",
            "--workspace",
            "--all-targets",
            "--features",
            TEST_FEATURES,
            "--",
            "-D",
            "warnings",
        ],
    )?;
    // Rustdoc lints (broken intra-doc links are denied in [workspace.lints]) only run here.
    step_with_env(
        &root,
        "docs",
        "cargo",
        &[
            "doc",
            "--workspace",
            "--no-deps",
            "--features",
            TEST_FEATURES,
        ],
        &[("RUSTDOCFLAGS", "-D warnings")],
    )?;
    step(
        &root,
        "codegen freshness",
        "cargo",
        &["xtask", "codegen", "--check"],
    )?;
    step(
        &root,
        "protocol crate has no tokio",
        "bash",
        &[
            "-c",
            "! cargo tree -p kafkaex-protocol -e normal -i tokio 2>/dev/null | grep -q tokio",
        ],
    )?;
    if root.join("kafkaex-protocol/fuzz/Cargo.toml").exists() {
        step(
            &root,
            "fuzz targets build",
            "cargo",
            &[
                "build",
                "--manifest-path",
                "kafkaex-protocol/fuzz/Cargo.toml",
                "--bins",
            ],
        )?;
    }
    step(
        &root,
        "benches build",
        "cargo",
        &["bench", "--no-run", "-p", "kafkaex-benches"],
    )?;
    // The franz-go arm of `cargo xtask bench e2e` is Go: build it and run its unit tests with
    // `go test`, which also runs go vet's default checks (seconds warm, 50 s cold on a busy
    // machine; `go vet` on top would add 10 s more). The rdkafka arm is deliberately not built
    // here: it compiles librdkafka, which takes minutes.
    if Command::new("go").arg("version").output().is_ok() {
        step(
            &root,
            "franz-go bench arm",
            "bash",
            &["-c", "cd benches/e2e/franz-go && go test ./..."],
        )?;
    } else {
        eprintln!("==> franz-go bench arm: SKIPPED (no `go` on PATH)");
    }
    let r = run_test(args);
    eprintln!("xtask ci: total {:.0?}", started.elapsed());
    r
}

pub(crate) fn run_test(args: &[String]) -> Result<()> {
    let root = workspace_root();
    let me = std::env::current_exe().context("locating the xtask binary")?;
    let profiles: Vec<&str> = if args.iter().any(|a| a == "--no-brokers") {
        Vec::new()
    } else {
        TEST_PROFILES.to_vec()
    };

    // Build the tests before starting brokers, so compile time does not count against them and a
    // compile error fails fast.
    step(
        &root,
        "build tests",
        "cargo",
        &[
            "test",
            "--workspace",
            "--no-run",
            "--features",
            TEST_FEATURES,
        ],
    )?;

    let mut envs: Vec<(String, String)> = Vec::new();
    let guard = BrokerGuard {
        me: me.clone(),
        root: root.clone(),
        profiles: Vec::new(),
    };
    let mut guard = guard;
    for p in &profiles {
        let t = Instant::now();
        let out = Command::new(&me)
            .args(["kafka", "up", p])
            .current_dir(&root)
            .output()
            .with_context(|| format!("starting broker profile {p}"))?;
        guard.profiles.push(p.to_string());
        eprint!("{}", String::from_utf8_lossy(&out.stderr));
        let stdout = String::from_utf8_lossy(&out.stdout);
        print!("{stdout}");
        if !out.status.success() {
            bail!("broker profile {p} failed to start (see its log above)");
        }
        eprintln!("xtask test: profile {p} up in {:.1?}", t.elapsed());
        envs.extend(parse_env_lines(&stdout));
    }
    if root.join("interop/java/pom.xml").exists() {
        step(
            &root,
            "interop jar",
            "cargo",
            &["xtask", "interop", "build"],
        )?;
        envs.push(("KAFKAEX_INTEROP".into(), "1".into()));
    }

    let t = Instant::now();
    let mut cmd = Command::new("cargo");
    cmd.args([
        "test",
        "--workspace",
        "--no-fail-fast",
        "--features",
        TEST_FEATURES,
    ])
    .current_dir(&root);
    for (k, v) in &envs {
        eprintln!("xtask test: {k}={v}");
        cmd.env(k, v);
    }
    if !profiles.is_empty() {
        // Tells the tests that brokers are expected: a missing broker is then a failure, not a skip.
        cmd.env("KAFKAEX_REQUIRE_BROKERS", "1");
    }
    // Every broker test that finds no broker appends a line here (kafkaex_testkit::provider), so the
    // number of skipped broker tests is printed at the end instead of hiding in captured output.
    let skip_log = root.join("target/kafkaex-skipped-tests.log");
    let _ = std::fs::remove_file(&skip_log);
    cmd.env("KAFKAEX_SKIP_LOG", &skip_log);
    let status = cmd.status().context("running cargo test")?;
    eprintln!("xtask test: cargo test took {:.1?}", t.elapsed());
    let skipped = std::fs::read_to_string(&skip_log).unwrap_or_default();
    let skipped: Vec<&str> = skipped.lines().collect();
    eprintln!("xtask test: broker tests skipped: {}", skipped.len());
    for line in &skipped {
        eprintln!("  {line}");
    }
    drop(guard);
    if !status.success() {
        bail!("tests failed");
    }
    Ok(())
}

/// Parses `KEY=VALUE` / `export KEY=VALUE` lines printed by `xtask kafka up`.
fn parse_env_lines(s: &str) -> Vec<(String, String)> {
    s.lines()
        .filter_map(|l| {
            let l = l.trim().trim_start_matches("export ").trim();
            let (k, v) = l.split_once('=')?;
            (k.starts_with("KAFKAEX_") && !k.contains(' '))
                .then(|| (k.to_string(), v.trim_matches('"').to_string()))
        })
        .collect()
}

/// Stops the broker profiles it started when dropped, so a failing test run still cleans up.
struct BrokerGuard {
    me: std::path::PathBuf,
    root: std::path::PathBuf,
    profiles: Vec<String>,
}

impl Drop for BrokerGuard {
    fn drop(&mut self) {
        for p in self.profiles.iter().rev() {
            let _ = Command::new(&self.me)
                .args(["kafka", "down", p])
                .current_dir(&self.root)
                .status();
        }
    }
}

fn step(root: &Path, name: &str, program: &str, args: &[&str]) -> Result<()> {
    step_with_env(root, name, program, args, &[])
}

fn step_with_env(
    root: &Path,
    name: &str,
    program: &str,
    args: &[&str],
    env: &[(&str, &str)],
) -> Result<()> {
    eprintln!("==> {name}: {program} {}", args.join(" "));
    let t = Instant::now();
    let status = Command::new(program)
        .args(args)
        .envs(env.iter().copied())
        .current_dir(root)
        .status()
        .with_context(|| format!("running {program}"))?;
    eprintln!(
        "==> {name}: {} in {:.1?}",
        if status.success() { "ok" } else { "FAILED" },
        t.elapsed()
    );
    if !status.success() {
        bail!("{name} failed");
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn env_lines_are_parsed() {
        let v = parse_env_lines(
            "export KAFKAEX_BOOTSTRAP_KRAFT=127.0.0.1:19092\nnoise\nKAFKAEX_X=\"a b\"\n",
        );
        assert_eq!(
            v,
            vec![
                (
                    "KAFKAEX_BOOTSTRAP_KRAFT".to_string(),
                    "127.0.0.1:19092".to_string()
                ),
                ("KAFKAEX_X".to_string(), "a b".to_string())
            ]
        );
    }
}
