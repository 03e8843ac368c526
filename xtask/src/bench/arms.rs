//! The arms: which clients the harness measures, how each is built, and its command lines.
//!
//! **To add an arm, add an entry to [`ARMS`].** A contract arm is any executable that follows
//! the CLI/JSON contract of `benches/README.md` (`ARM produce ...` / `ARM consume ...`, one JSON
//! line on stdout); its [`Source`] says how to build it: a cargo package (its own project or a
//! member of the main workspace), a Go module, or an executable that is already there. The Java
//! arm is the one exception: Kafka's own perf tools, with their own options and output.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use anyhow::{bail, ensure, Context, Result};

use super::parse::{self, Report};
use super::{Config, Opts};

/// Every arm, in table order. The first is the baseline of every ratio.
pub(crate) const ARMS: &[ArmSpec] = &[
    ArmSpec {
        name: "librdkafka",
        what: "rdkafka 0.39 crate, bundled librdkafka 2.12.1; BaseProducer, BaseConsumer with assign",
        source: Source::Cargo {
            manifest: "benches/e2e/rdkafka/Cargo.toml",
            package: None,
            bin: "e2e-arm-rdkafka",
        },
    },
    ArmSpec {
        name: "franz-go",
        what: "franz-go v1.22.3 kgo; Produce with a promise, groupless ConsumeTopics",
        source: Source::Go {
            dir: "benches/e2e/franz-go",
            bin: "e2e-arm-franz-go",
        },
    },
    ArmSpec {
        name: "java",
        what: "Kafka 4.4.0 kafka-tools ProducerPerformance / ConsumerPerformance (kafka-clients 4.4.0)",
        source: Source::KafkaPerfTools,
    },
    ArmSpec {
        name: "kafkaex",
        what: "kafkaex-client 0.1: Producer::send + delivery futures; consume: a Fetch loop through Client::request (no consumer yet)",
        source: Source::Cargo {
            manifest: "Cargo.toml",
            package: Some("kafkaex-e2e-arm"),
            bin: "kafkaex-e2e-arm",
        },
    },
];

/// The arm every ratio is against.
pub(crate) const BASELINE: &str = "librdkafka";

/// One client under test.
#[derive(Debug, Clone, Copy)]
pub(crate) struct ArmSpec {
    /// Its name in `--arms` and in the tables.
    pub(crate) name: &'static str,
    /// One line on what exactly is measured (versions, APIs).
    pub(crate) what: &'static str,
    pub(crate) source: Source,
}

/// Where an arm's executable comes from.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Source {
    /// `cargo build --release --manifest-path <manifest> [-p <package>] --bin <bin>`, into
    /// `target/` next to the manifest (its own cargo project, or the main workspace).
    Cargo {
        manifest: &'static str,
        package: Option<&'static str>,
        bin: &'static str,
    },
    /// `go build` of the module in `dir` (go.mod and go.sum committed there), into
    /// `target/bench-e2e/bin/<bin>`.
    Go {
        dir: &'static str,
        bin: &'static str,
    },
    /// An executable built elsewhere, absolute or relative to the workspace root.
    #[allow(dead_code)] // For arms built by other means; none yet.
    Prebuilt { path: &'static str },
    /// Kafka's `ProducerPerformance` and `ConsumerPerformance` (from `kafka-tools`), on the
    /// broker distribution's classpath resolved by `cargo xtask kafka`.
    KafkaPerfTools,
}

/// An arm ready to run.
#[derive(Debug, Clone)]
pub(crate) struct Arm {
    pub(crate) spec: ArmSpec,
    pub(crate) kind: Kind,
}

#[derive(Debug, Clone)]
pub(crate) enum Kind {
    /// A contract executable.
    Contract(PathBuf),
    /// The Java tools, on this classpath directory (`lib/*`) with this log config.
    Java { lib: PathBuf, log_config: PathBuf },
}

/// The outcome of getting an arm ready.
#[derive(Debug)]
pub(crate) enum Prepared {
    Ready(Arm, Duration),
    Skipped(ArmSpec, String),
}

/// Picks the arms named in `--arms` (all by default) in table order; an unknown name is an error.
pub(crate) fn select(names: Option<&str>) -> Result<Vec<ArmSpec>> {
    let Some(names) = names else {
        return Ok(ARMS.to_vec());
    };
    let wanted: Vec<&str> = names
        .split(',')
        .map(str::trim)
        .filter(|n| !n.is_empty())
        .collect();
    for w in &wanted {
        ensure!(
            ARMS.iter().any(|a| a.name == *w),
            "unknown arm {w:?} (arms: {})",
            ARMS.iter().map(|a| a.name).collect::<Vec<_>>().join(", ")
        );
    }
    Ok(ARMS
        .iter()
        .filter(|a| wanted.contains(&a.name))
        .copied()
        .collect())
}

/// Builds (or, with `skip_build`, only finds) an arm. Never fails: what goes wrong becomes the
/// reason it is skipped.
pub(crate) fn prepare(root: &Path, spec: ArmSpec, skip_build: bool, java_lib: &Path) -> Prepared {
    let started = Instant::now();
    let result = match spec.source {
        Source::Cargo {
            manifest,
            package,
            bin,
        } => cargo_arm(root, manifest, package, bin, skip_build),
        Source::Go { dir, bin } => go_arm(root, dir, bin, skip_build),
        Source::Prebuilt { path } => {
            let p = root.join(path);
            if p.is_file() {
                Ok(Kind::Contract(p))
            } else {
                Err(anyhow::anyhow!("{} does not exist", p.display()))
            }
        }
        Source::KafkaPerfTools => java_arm(root, java_lib),
    };
    match result {
        Ok(kind) => Prepared::Ready(Arm { spec, kind }, started.elapsed()),
        Err(e) => Prepared::Skipped(spec, format!("{e:#}")),
    }
}

fn cargo_arm(
    root: &Path,
    manifest: &str,
    package: Option<&str>,
    bin: &str,
    skip_build: bool,
) -> Result<Kind> {
    let manifest = root.join(manifest);
    let target = manifest
        .parent()
        .context("manifest has a directory")?
        .join("target");
    let exe = target.join("release").join(bin);
    if !skip_build {
        let mut cmd = Command::new("cargo");
        cmd.arg("build")
            .arg("--release")
            .arg("--manifest-path")
            .arg(&manifest)
            .arg("--target-dir")
            .arg(&target)
            .args(["--bin", bin]);
        if let Some(p) = package {
            cmd.args(["-p", p]);
        }
        eprintln!("xtask bench: building {bin}: {cmd:?}");
        let status = cmd.status().context("running cargo")?;
        ensure!(status.success(), "cargo build failed ({status})");
    }
    ensure!(
        exe.is_file(),
        "{} is not built (run without --skip-build)",
        exe.display()
    );
    Ok(Kind::Contract(exe))
}

fn go_arm(root: &Path, dir: &str, bin: &str, skip_build: bool) -> Result<Kind> {
    let exe = root.join("target/bench-e2e/bin").join(bin);
    if !skip_build {
        let out = Command::new("go")
            .arg("build")
            .arg("-o")
            .arg(&exe)
            .arg(".")
            .current_dir(root.join(dir))
            .output();
        let out = match out {
            Ok(out) => out,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                bail!("`go` is not on PATH (Go 1.26 builds this arm)")
            }
            Err(e) => return Err(e).context("running go build"),
        };
        ensure!(
            out.status.success(),
            "go build failed ({}): {}",
            out.status,
            String::from_utf8_lossy(&out.stderr).trim()
        );
    }
    ensure!(
        exe.is_file(),
        "{} is not built (run without --skip-build)",
        exe.display()
    );
    Ok(Kind::Contract(exe))
}

fn java_arm(root: &Path, lib: &Path) -> Result<Kind> {
    let which = Command::new("java").arg("-version").output();
    ensure!(
        which.is_ok_and(|o| o.status.success()),
        "`java` is not on PATH (Java 17 runs Kafka's tools)"
    );
    let has_tools = std::fs::read_dir(lib)
        .with_context(|| format!("reading {}", lib.display()))?
        .filter_map(|e| e.ok())
        .any(|e| e.file_name().to_string_lossy().starts_with("kafka-tools-"));
    ensure!(has_tools, "no kafka-tools jar in {}", lib.display());
    let log_config = root.join("target/bench-e2e/log4j2.properties");
    std::fs::create_dir_all(log_config.parent().expect("has a parent"))?;
    // Warnings and errors to stderr (our log file); the tools' results go to stdout.
    std::fs::write(
        &log_config,
        "status = warn\n\
         appender.err.type = Console\n\
         appender.err.name = ERR\n\
         appender.err.target = SYSTEM_ERR\n\
         appender.err.layout.type = PatternLayout\n\
         appender.err.layout.pattern = [%d] %p %m (%c)%n\n\
         rootLogger.level = WARN\n\
         rootLogger.appenderRef.err.ref = ERR\n",
    )?;
    Ok(Kind::Java {
        lib: lib.to_path_buf(),
        log_config,
    })
}

/// JVM options of Kafka's scripts: `kafka-producer-perf-test.sh` and
/// `kafka-consumer-perf-test.sh` set a 512 MiB heap, and `kafka-run-class.sh` adds the rest.
const JVM_OPTS: &[&str] = &[
    "-Xmx512M",
    "-server",
    "-XX:+UseG1GC",
    "-XX:MaxGCPauseMillis=20",
    "-XX:InitiatingHeapOccupancyPercent=35",
    "-XX:+ExplicitGCInvokesConcurrent",
    "-XX:MaxInlineLevel=15",
    "-Djava.awt.headless=true",
];

/// The producer buffer of every arm: Java's `buffer.memory` default. The contract arms use the
/// same (`queue.buffering.max.kbytes`, `MaxBufferedBytes`).
const BUFFER_BYTES: u64 = 32 * 1024 * 1024;

impl Arm {
    pub(crate) fn name(&self) -> &'static str {
        self.spec.name
    }

    /// The command that produces `opts.records` records to `topic` under `config`.
    pub(crate) fn produce_command(&self, opts: &Opts, config: &Config, topic: &str) -> Command {
        match &self.kind {
            Kind::Contract(exe) => {
                let mut cmd = Command::new(exe);
                cmd.arg("produce")
                    .args(contract_produce_args(opts, config, topic));
                cmd
            }
            Kind::Java { lib, log_config } => {
                let mut cmd = java(
                    lib,
                    log_config,
                    "org.apache.kafka.tools.ProducerPerformance",
                );
                cmd.args(["--topic", topic])
                    .args(["--num-records", &opts.records.to_string()])
                    .args(["--record-size", &opts.record_size.to_string()])
                    .args(["--throughput", "-1"])
                    .args(["--bootstrap-server", &opts.bootstrap])
                    .arg("--command-property")
                    .args(java_producer_props(opts, config));
                cmd
            }
        }
    }

    /// The command that reads `opts.records` records from `topic`.
    pub(crate) fn consume_command(&self, opts: &Opts, topic: &str, group: &str) -> Command {
        match &self.kind {
            Kind::Contract(exe) => {
                let mut cmd = Command::new(exe);
                cmd.arg("consume")
                    .args(["--bootstrap", &opts.bootstrap])
                    .args(["--topic", topic])
                    .args(["--records", &opts.records.to_string()]);
                cmd
            }
            Kind::Java { lib, log_config } => {
                let mut cmd = java(
                    lib,
                    log_config,
                    "org.apache.kafka.tools.ConsumerPerformance",
                );
                cmd.args(["--bootstrap-server", &opts.bootstrap])
                    .args(["--topic", topic])
                    .args(["--num-records", &opts.records.to_string()])
                    .args(["--timeout", "60000"])
                    // The tool always joins a group; a fresh one per run, without commits.
                    .args(["--group", group])
                    .args(["--command-property", "enable.auto.commit=false"]);
                cmd
            }
        }
    }

    /// Reads the arm's report from its stdout.
    pub(crate) fn parse(&self, produce: bool, stdout: &str, record_size: usize) -> Result<Report> {
        match (&self.kind, produce) {
            (Kind::Contract(_), _) => parse::arm_line(stdout),
            (Kind::Java { .. }, true) => parse::producer_performance(stdout, record_size),
            (Kind::Java { .. }, false) => parse::consumer_performance(stdout, record_size),
        }
    }

    /// Whether its producer writes the contract's values (so the harness knows the checksum).
    pub(crate) fn writes_contract_values(&self) -> bool {
        matches!(self.kind, Kind::Contract(_))
    }

    /// Whether its consumer reports the contract's checksum.
    pub(crate) fn reports_checksum(&self) -> bool {
        matches!(self.kind, Kind::Contract(_))
    }
}

fn java(lib: &Path, log_config: &Path, main: &str) -> Command {
    let mut cmd = Command::new("java");
    cmd.args(JVM_OPTS)
        .arg(format!(
            "-Dlog4j2.configurationFile={}",
            log_config.display()
        ))
        .arg("-cp")
        .arg(format!("{}/*", lib.display()))
        .arg(main);
    cmd
}

/// The contract's produce options.
pub(crate) fn contract_produce_args(opts: &Opts, config: &Config, topic: &str) -> Vec<String> {
    [
        ("--bootstrap", opts.bootstrap.clone()),
        ("--topic", topic.to_string()),
        ("--records", opts.records.to_string()),
        ("--record-size", opts.record_size.to_string()),
        ("--acks", config.acks.to_string()),
        ("--compression", config.compression.to_string()),
        ("--linger-ms", opts.linger_ms.to_string()),
        ("--batch-bytes", opts.batch_bytes.to_string()),
        ("--idempotent", config.idempotent.to_string()),
    ]
    .into_iter()
    .flat_map(|(k, v)| [k.to_string(), v])
    .collect()
}

/// The same settings as Java producer properties.
pub(crate) fn java_producer_props(opts: &Opts, config: &Config) -> Vec<String> {
    vec![
        format!("acks={}", config.acks),
        format!("enable.idempotence={}", config.idempotent),
        format!("compression.type={}", config.compression),
        format!("linger.ms={}", opts.linger_ms),
        format!("batch.size={}", opts.batch_bytes),
        "max.in.flight.requests.per.connection=5".to_string(),
        format!("buffer.memory={BUFFER_BYTES}"),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn arm_names_are_unique_and_the_baseline_exists() {
        let mut names: Vec<&str> = ARMS.iter().map(|a| a.name).collect();
        assert_eq!(names.first(), Some(&BASELINE));
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), ARMS.len());
    }

    #[test]
    fn select_keeps_table_order() {
        let picked = select(Some("java, librdkafka")).unwrap();
        let names: Vec<&str> = picked.iter().map(|a| a.name).collect();
        assert_eq!(names, ["librdkafka", "java"]);
        assert_eq!(select(None).unwrap().len(), ARMS.len());
        assert!(select(Some("librdkafka,nope")).is_err());
    }

    #[test]
    fn every_arm_gets_the_same_settings() {
        let opts = Opts::for_tests();
        let config = Config {
            acks: "all",
            idempotent: true,
            compression: "lz4",
        };
        assert_eq!(
            contract_produce_args(&opts, &config, "t").join(" "),
            "--bootstrap 127.0.0.1:19092 --topic t --records 1000 --record-size 100 --acks all \
             --compression lz4 --linger-ms 5 --batch-bytes 1000000 --idempotent true"
        );
        assert_eq!(
            java_producer_props(&opts, &config).join(" "),
            "acks=all enable.idempotence=true compression.type=lz4 linger.ms=5 batch.size=1000000 \
             max.in.flight.requests.per.connection=5 buffer.memory=33554432"
        );
    }
}
