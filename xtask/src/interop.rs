//! `cargo xtask interop`: the official Java client as an independent peer.
//!
//! The Java side lives in `interop/java/` (a small Maven project on kafka-clients 3.9.x, which
//! talks to both test brokers and still reads magic 0/1 message sets). It is built on demand into
//! `target/interop/` (`kafkaex-interop.jar` plus its runtime jars in `lib/`) and reused while it is
//! newer than its sources. Programs:
//!
//! - `Verify FILE`: validates a records field with `MemoryRecords` and prints a canonical dump
//!   (`kafkaex-protocol/tests/golden_records.rs` compares it with what our encoder was given);
//! - `Produce BOOTSTRAP TOPIC CODEC ...`: creates a topic and produces the golden record set;
//! - `Fetch HOST:PORT TOPIC VERSION OUT`: one raw Fetch at a fixed version, records bytes to OUT;
//! - `Write MAGIC CODEC OUT`: the golden record set encoded by `MemoryRecordsBuilder`, no broker;
//! - `Partitions`, `Consume`: the Java producer's partitioner, and the Java consumer reading what
//!   our producer wrote (`kafkaex-client/tests/interop_java.rs`);
//! - `Transactions BOOTSTRAP TOPIC ROUNDS PER_TXN [PRODUCERS [--leave-open]]`: committed and
//!   aborted transactions of one or two transactional producers with plain records between,
//!   each data record printed (`kafkaex-client/tests/consumer_interop.rs`);
//! - `ProduceCodecs BOOTSTRAP TOPIC CODEC COUNT BATCH`: records of many shapes with a codec, in
//!   fixed batches, each printed in hex (the same test file).
//!
//! Beside them, `interop/java/messages/GoldenMessages.java` is a single-file program run on
//! kafka-clients 4.4.0 (the jar `cargo xtask codegen` resolves into `target/kafka-specs/`, which
//! `build` resolves too): golden bytes of the newest message versions, for
//! `kafkaex-protocol/tests/roundtrip_java.rs`.
//!
//! `capture` drives them against the test brokers (`cargo xtask kafka up kraft|zk`) to
//! (re)make `kafkaex-protocol/tests/fixtures/records/*.bin`; the README there says how.
//! `legacy-broker up|down` runs the one broker that can store magic 0/1 on disk (see
//! [`legacy_broker_up`]).

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, SystemTime};

use anyhow::{bail, ensure, Context, Result};

use crate::workspace_root;

/// Codecs every magic supports, in fixture order; zstd needs magic 2 and is added there.
const LEGACY_CODECS: &[&str] = &["none", "gzip", "snappy", "lz4"];

/// `cargo xtask interop <subcommand>`.
pub(crate) fn run(args: &[String]) -> Result<()> {
    let Some(sub) = args.first() else {
        bail!("usage: cargo xtask interop <build | classpath | verify FILE | produce BOOTSTRAP TOPIC CODEC [..] | fetch HOST:PORT TOPIC VERSION OUT | write MAGIC CODEC OUT | capture [..] | legacy-broker up|down>");
    };
    let rest = &args[1..];
    match sub.as_str() {
        "build" => {
            let dir = build()?;
            println!("{}", dir.display());
            Ok(())
        }
        "classpath" => {
            build()?;
            println!("{}", classpath());
            Ok(())
        }
        "verify" => {
            ensure!(rest.len() == 1, "usage: cargo xtask interop verify FILE");
            java("Verify", rest)
        }
        "produce" => java("Produce", rest),
        "fetch" => java("Fetch", rest),
        "write" => java("Write", rest),
        "capture" => capture(rest),
        "legacy-broker" => match rest.first().map(String::as_str) {
            Some("up") => legacy_broker_up(),
            Some("down") => legacy_broker_down(),
            _ => bail!("usage: cargo xtask interop legacy-broker up|down"),
        },
        other => bail!("unknown interop subcommand {other:?}"),
    }
}

/// Where the Java programs are built: `<workspace>/target/interop/`.
///
/// Always under the workspace's own `target/` (not `CARGO_TARGET_DIR`), because the golden tests
/// find it relative to the workspace too.
fn out_dir() -> PathBuf {
    workspace_root().join("target").join("interop")
}

fn jar() -> PathBuf {
    out_dir().join("kafkaex-interop.jar")
}

fn classpath() -> String {
    format!(
        "{}:{}",
        jar().display(),
        out_dir().join("lib").join("*").display()
    )
}

/// Builds `target/interop/kafkaex-interop.jar` with Maven unless it is newer than every file
/// under `interop/java/`; returns the output directory.
pub(crate) fn build() -> Result<PathBuf> {
    // GoldenMessages.java runs on the newest kafka-clients, the jar codegen reads specs from.
    crate::codegen::resolve_clients_jar(&workspace_root(), crate::codegen::KAFKA_CLIENTS_VERSION)?;
    let project = workspace_root().join("interop").join("java");
    let jar = jar();
    let sources = newest_mtime(&project)?;
    let fresh = match std::fs::metadata(&jar).and_then(|m| m.modified()) {
        Ok(built) => built >= sources && out_dir().join("lib").is_dir(),
        Err(_) => false,
    };
    if !fresh {
        eprintln!("xtask interop: building {} with Maven", jar.display());
        let status = Command::new("mvn")
            .args(["-B", "-q", "-f"])
            .arg(project.join("pom.xml"))
            .arg(format!("-Dinterop.buildDirectory={}", out_dir().display()))
            .arg("package")
            .status()
            .context("running mvn (is Maven installed?)")?;
        ensure!(status.success(), "mvn package failed: {status}");
        ensure!(
            jar.exists(),
            "mvn succeeded but {} is missing",
            jar.display()
        );
    }
    Ok(out_dir())
}

/// The newest modification time of any file under `dir` (recursively).
fn newest_mtime(dir: &Path) -> Result<SystemTime> {
    let mut newest = SystemTime::UNIX_EPOCH;
    for entry in std::fs::read_dir(dir).with_context(|| format!("reading {}", dir.display()))? {
        let entry = entry?;
        let meta = entry.metadata()?;
        let t = if meta.is_dir() {
            newest_mtime(&entry.path())?
        } else {
            meta.modified()?
        };
        newest = newest.max(t);
    }
    Ok(newest)
}

/// Runs one of the Java programs with inherited stdio; fails when it exits non-zero.
fn java(main_class: &str, args: &[String]) -> Result<()> {
    build()?;
    let status = java_command(main_class)
        .args(args)
        .status()
        .context("running java")?;
    ensure!(status.success(), "{main_class} failed: {status}");
    Ok(())
}

fn java_command(main_class: &str) -> Command {
    let mut cmd = Command::new("java");
    cmd.arg("-cp")
        .arg(classpath())
        .arg(format!("io.kafkaex.interop.{main_class}"));
    cmd
}

/// One broker to capture from.
#[derive(Debug)]
struct Broker {
    bootstrap: String,
    data_dir: PathBuf,
}

/// `capture [--kraft BOOTSTRAP DATA_DIR] [--zk BOOTSTRAP DATA_DIR] [--out DIR] [--only kraft|zk]`
///
/// Produces the golden record set once per codec to fresh topics and copies each topic's first
/// log segment (what a Fetch from offset 0 returns) into the fixtures directory:
///
/// - magic 2, every codec, from the KRaft broker (`cargo xtask kafka up kraft`, Kafka 4.x);
/// - magic 0 and 1, every codec but zstd, from a Kafka 3.9 ZooKeeper-mode broker (by default the
///   one `legacy-broker up` starts) with topics created with `message.format.version=0.9.0` /
///   `0.10.2`. A broker running with inter.broker.protocol.version >= 3.0 (like the `zk` test
///   profile) ignores that config and stores magic 2 (KIP-724); then the legacy bytes are taken
///   from a raw Fetch v0 (magic 0) / v2 (magic 1) of the same topic, which a 3.9 broker
///   down-converts, minus the truncated "overflow" batch it pads such responses with. Which way
///   each file was made is printed.
///
/// Each file is then validated by `Verify` and its magic byte checked.
fn capture(args: &[String]) -> Result<()> {
    let root = workspace_root();
    let mut kraft = Some(Broker {
        bootstrap: "127.0.0.1:19092".into(),
        data_dir: root.join("target/kafka/kraft"),
    });
    let mut zk = Some(Broker {
        bootstrap: LEGACY_BOOTSTRAP.into(),
        data_dir: legacy_dir().join("data"),
    });
    let mut out = root.join("kafkaex-protocol/tests/fixtures/records");
    let mut i = 0;
    while i < args.len() {
        match args[i].as_str() {
            flag @ ("--kraft" | "--zk") if i + 2 < args.len() => {
                let b = Broker {
                    bootstrap: args[i + 1].clone(),
                    data_dir: PathBuf::from(&args[i + 2]),
                };
                if flag == "--kraft" {
                    kraft = Some(b);
                } else {
                    zk = Some(b);
                }
                i += 3;
            }
            "--out" if i + 1 < args.len() => {
                out = PathBuf::from(&args[i + 1]);
                i += 2;
            }
            "--only" if i + 1 < args.len() => {
                match args[i + 1].as_str() {
                    "kraft" => zk = None,
                    "zk" => kraft = None,
                    other => bail!("--only kraft|zk, not {other:?}"),
                }
                i += 2;
            }
            other => bail!("unknown or incomplete capture argument {other:?}"),
        }
    }
    for (broker, hint) in [
        (&kraft, "cargo xtask kafka up kraft"),
        (&zk, "cargo xtask interop legacy-broker up"),
    ] {
        if let Some(b) = broker {
            ensure!(
                std::net::TcpStream::connect(&b.bootstrap).is_ok(),
                "no broker at {} (start it with `{hint}`, or pick another with --kraft/--zk)",
                b.bootstrap
            );
        }
    }
    build()?;
    std::fs::create_dir_all(&out)?;
    // Fresh topic names per run: the segment must hold exactly the one batch produced now.
    let run_id = SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)?
        .as_secs();

    if let Some(broker) = &kraft {
        for codec in LEGACY_CODECS.iter().chain(&["zstd"]) {
            let topic = format!("golden-{run_id}-m2-{codec}");
            produce(broker, &topic, codec, &[])?;
            let dest = out.join(format!("2-{codec}.bin"));
            copy_segment(broker, &topic, &dest)?;
            check_fixture(&dest, 2)?;
            println!(
                "2-{codec}.bin: log segment of {topic} on {}",
                broker.bootstrap
            );
        }
        if kcat_version().is_some() {
            for codec in LEGACY_CODECS.iter().chain(&["zstd"]) {
                let topic = format!("golden-{run_id}-m2-{codec}-librdkafka");
                produce(broker, &topic, codec, &["--create-only"])?;
                kcat_produce(broker, &topic, codec)?;
                let dest = out.join(format!("2-{codec}-librdkafka.bin"));
                copy_segment(broker, &topic, &dest)?;
                check_fixture(&dest, 2)?;
                println!(
                    "2-{codec}-librdkafka.bin: log segment of {topic} on {}",
                    broker.bootstrap
                );
            }
        } else {
            eprintln!("xtask interop: no kcat on PATH, skipping the librdkafka fixtures");
        }
    }
    if let Some(broker) = &zk {
        for (magic, format_version, fetch_version) in [(0u8, "0.9.0", "0"), (1, "0.10.2", "2")] {
            for codec in LEGACY_CODECS {
                let topic = format!("golden-{run_id}-m{magic}-{codec}");
                let config = format!("message.format.version={format_version}");
                produce(
                    broker,
                    &topic,
                    codec,
                    &["--no-headers", "--config", &config],
                )?;
                let dest = out.join(format!("{magic}-{codec}.bin"));
                copy_segment(broker, &topic, &dest)?;
                let stored = std::fs::read(&dest)?;
                if stored.get(16) == Some(&magic) {
                    println!(
                        "{magic}-{codec}.bin: log segment of {topic} ({config}) on {}",
                        broker.bootstrap
                    );
                } else {
                    eprintln!(
                        "xtask interop: {topic} is stored as magic {:?}, not {magic} \
                         (the broker ignores message.format.version); using Fetch v{fetch_version}",
                        stored.get(16)
                    );
                    let status = java_command("Fetch")
                        .args([&broker.bootstrap, &topic, fetch_version])
                        .arg(&dest)
                        .status()?;
                    ensure!(status.success(), "Fetch v{fetch_version} of {topic} failed");
                    trim_partial_tail(&dest)?;
                    println!(
                        "{magic}-{codec}.bin: Fetch v{fetch_version} response records of {topic} on {}",
                        broker.bootstrap
                    );
                }
                check_fixture(&dest, magic)?;
            }
        }
    }
    Ok(())
}

/// Drops a trailing partial entry from a records file.
///
/// A broker that down-converts a Fetch answers with the size of the unconverted data and fills
/// the difference with a truncated batch at offset -1 that consumers skip; it is not part of the
/// record set.
fn trim_partial_tail(path: &Path) -> Result<()> {
    let mut bytes = std::fs::read(path)?;
    let mut pos = 0usize;
    // Every format starts an entry with offset (8 bytes) and size (4 bytes).
    while let Some(header) = bytes.get(pos..pos + 12) {
        let size = i32::from_be_bytes(header[8..12].try_into().expect("4 bytes"));
        let Ok(size) = usize::try_from(size) else {
            break;
        };
        if pos + 12 + size > bytes.len() {
            break;
        }
        pos += 12 + size;
    }
    if pos < bytes.len() {
        eprintln!(
            "xtask interop: {}: dropping {} trailing bytes of a partial batch",
            path.display(),
            bytes.len() - pos
        );
        bytes.truncate(pos);
        std::fs::write(path, bytes)?;
    }
    Ok(())
}

/// kcat's version line (with librdkafka's version), if kcat is installed.
fn kcat_version() -> Option<String> {
    let output = Command::new("kcat").arg("-V").output().ok()?;
    let text = String::from_utf8_lossy(&output.stdout).into_owned();
    text.lines()
        .find(|l| l.starts_with("Version"))
        .map(str::to_owned)
}

/// Input for kcat with `-K : -Z`: key and value split at the first `:`, empty means null.
///
/// The same keys and values as the Java record set (key of record 1 and value of record 2 null);
/// kcat cannot set timestamps, so they are the producer's clock, and `-H h=v` puts the header on
/// every record.
const KCAT_INPUT: &str = "k0:value-0\n:value-1\nk2:\nk3:value-3\nk4:value-4\n";

/// Produces [`KCAT_INPUT`] with kcat (librdkafka) as one batch to partition 0 of `topic`.
fn kcat_produce(broker: &Broker, topic: &str, codec: &str) -> Result<()> {
    use std::io::Write as _;
    let mut child = Command::new("kcat")
        .args(["-P", "-b", &broker.bootstrap, "-t", topic, "-p", "0"])
        .args(["-K", ":", "-Z", "-H", "h=v"])
        .args(["-X", &format!("compression.codec={codec}")])
        .args(["-X", "linger.ms=1000", "-X", "enable.idempotence=false"])
        .stdin(Stdio::piped())
        .spawn()
        .context("running kcat")?;
    child
        .stdin
        .take()
        .expect("piped")
        .write_all(KCAT_INPUT.as_bytes())?;
    let status = child.wait()?;
    ensure!(status.success(), "kcat produce to {topic} failed: {status}");
    Ok(())
}

fn produce(broker: &Broker, topic: &str, codec: &str, extra: &[&str]) -> Result<()> {
    let status = java_command("Produce")
        .args([broker.bootstrap.as_str(), topic, codec])
        .args(extra)
        .stdout(Stdio::null())
        .status()
        .context("running Produce")?;
    ensure!(status.success(), "Produce {topic} {codec} failed: {status}");
    Ok(())
}

/// Copies `<data dir>/**/<topic>-0/00000000000000000000.log` to `dest`, waiting a little for the
/// broker to have written it.
fn copy_segment(broker: &Broker, topic: &str, dest: &Path) -> Result<()> {
    let dir_name = format!("{topic}-0");
    for _ in 0..50 {
        if let Some(dir) = find_dir(&broker.data_dir, &dir_name)? {
            let segment = dir.join("00000000000000000000.log");
            let len = std::fs::metadata(&segment).map(|m| m.len()).unwrap_or(0);
            if len > 0 {
                std::fs::copy(&segment, dest)
                    .with_context(|| format!("copying {}", segment.display()))?;
                return Ok(());
            }
        }
        std::thread::sleep(Duration::from_millis(200));
    }
    bail!(
        "no non-empty segment for {dir_name} under {}",
        broker.data_dir.display()
    )
}

fn find_dir(under: &Path, name: &str) -> Result<Option<PathBuf>> {
    let Ok(entries) = std::fs::read_dir(under) else {
        return Ok(None);
    };
    for entry in entries {
        let entry = entry?;
        if !entry.file_type()?.is_dir() {
            continue;
        }
        if entry.file_name() == name {
            return Ok(Some(entry.path()));
        }
        if let Some(found) = find_dir(&entry.path(), name)? {
            return Ok(Some(found));
        }
    }
    Ok(None)
}

/// Checks the first batch's magic byte (offset 16 in every format), runs `Verify` on `path` and
/// writes its dump to `path` with extension `.java.txt`.
fn check_fixture(path: &Path, magic: u8) -> Result<()> {
    let bytes = std::fs::read(path)?;
    ensure!(
        bytes.get(16) == Some(&magic),
        "{}: magic byte is {:?}, wanted {magic}",
        path.display(),
        bytes.get(16)
    );
    let output = java_command("Verify").arg(path).output()?;
    ensure!(
        output.status.success(),
        "Verify {} failed:\n{}",
        path.display(),
        String::from_utf8_lossy(&output.stderr)
    );
    // Kept beside the fixture: what the Java client reads from it.
    std::fs::write(path.with_extension("java.txt"), &output.stdout)?;
    print!("{}", String::from_utf8_lossy(&output.stdout));
    Ok(())
}

/// Loopback address of the legacy broker's ZooKeeper.
const LEGACY_ZK: &str = "127.0.0.1:47181";
/// Bootstrap address of the legacy broker.
pub(crate) const LEGACY_BOOTSTRAP: &str = "127.0.0.1:47092";

fn legacy_dir() -> PathBuf {
    out_dir().join("legacy-broker")
}

/// Starts a Kafka 3.9.1 broker in ZooKeeper mode with `inter.broker.protocol.version=2.8` (and its
/// own ZooKeeper) on loopback, data under `target/interop/legacy-broker/`.
///
/// Why not the `zk` test profile: a broker on protocol version 3.0 or later ignores the
/// `message.format.version` topic config (KIP-724) and stores magic 2, so it cannot produce the
/// on-disk magic 0/1 fixtures. On 2.8 the same config makes the broker convert what the Java
/// producer sends into legacy message sets (compressed wrapper messages included) as it appends.
fn legacy_broker_up() -> Result<()> {
    let dir = legacy_dir();
    let lib = dir.join("lib");
    std::fs::create_dir_all(&dir)?;
    if !lib.join("kafka_2.13-3.9.1.jar").exists() {
        let pom = workspace_root().join("interop/java/legacy-broker/pom.xml");
        let status = Command::new("mvn")
            .args(["-B", "-q", "-f"])
            .arg(&pom)
            .args(["dependency:copy-dependencies", "-DincludeScope=runtime"])
            .arg(format!("-DoutputDirectory={}", lib.display()))
            .status()
            .context("running mvn")?;
        ensure!(
            status.success(),
            "copying the broker's jars failed: {status}"
        );
    }
    if std::net::TcpStream::connect(LEGACY_BOOTSTRAP).is_ok() {
        println!("legacy broker already up at {LEGACY_BOOTSTRAP}");
        return Ok(());
    }
    let (zk_host, zk_port) = LEGACY_ZK.split_once(':').expect("host:port");
    let write = |name: &str, text: String| -> Result<PathBuf> {
        let path = dir.join(name);
        std::fs::write(&path, text)?;
        Ok(path)
    };
    let log4j = write(
        "log4j.properties",
        "log4j.rootLogger=WARN, stdout\n\
         log4j.appender.stdout=org.apache.log4j.ConsoleAppender\n\
         log4j.appender.stdout.layout=org.apache.log4j.PatternLayout\n\
         log4j.appender.stdout.layout.ConversionPattern=[%d] %p %m (%c)%n\n"
            .to_string(),
    )?;
    let zk_conf = write(
        "zookeeper.properties",
        format!(
            "dataDir={}\nclientPort={zk_port}\nclientPortAddress={zk_host}\n\
             maxClientCnxns=0\nadmin.enableServer=false\n",
            dir.join("zookeeper").display()
        ),
    )?;
    let server_conf = write(
        "server.properties",
        format!(
            "broker.id=0\n\
             listeners=PLAINTEXT://{LEGACY_BOOTSTRAP}\n\
             zookeeper.connect={LEGACY_ZK}\n\
             log.dirs={}\n\
             inter.broker.protocol.version=2.8\n\
             offsets.topic.replication.factor=1\n\
             transaction.state.log.replication.factor=1\n\
             transaction.state.log.min.isr=1\n\
             group.initial.rebalance.delay.ms=0\n",
            dir.join("data").display()
        ),
    )?;
    let spawn = |main_class: &str, conf: &Path, name: &str| -> Result<()> {
        let log = std::fs::File::create(dir.join(format!("{name}.log")))?;
        let child = Command::new("java")
            .arg("-Xmx512m")
            .arg(format!("-Dlog4j.configuration=file:{}", log4j.display()))
            .arg("-cp")
            .arg(lib.join("*"))
            .arg(main_class)
            .arg(conf)
            .stdin(Stdio::null())
            .stdout(log.try_clone()?)
            .stderr(log)
            .spawn()
            .with_context(|| format!("starting {name}"))?;
        std::fs::write(dir.join(format!("{name}.pid")), child.id().to_string())?;
        Ok(())
    };
    spawn(
        "org.apache.zookeeper.server.quorum.QuorumPeerMain",
        &zk_conf,
        "zookeeper",
    )?;
    wait_for_port(LEGACY_ZK, Duration::from_secs(30))?;
    spawn("kafka.Kafka", &server_conf, "broker")?;
    wait_for_port(LEGACY_BOOTSTRAP, Duration::from_secs(60))?;
    println!(
        "legacy broker (Kafka 3.9.1, ZooKeeper mode, inter.broker.protocol.version=2.8) up at \
         {LEGACY_BOOTSTRAP}, data {}",
        dir.join("data").display()
    );
    Ok(())
}

/// Stops what [`legacy_broker_up`] started (by the pids it recorded), broker first.
fn legacy_broker_down() -> Result<()> {
    for name in ["broker", "zookeeper"] {
        let pid_file = legacy_dir().join(format!("{name}.pid"));
        let Ok(pid) = std::fs::read_to_string(&pid_file) else {
            continue;
        };
        let pid = pid.trim();
        let _ = Command::new("kill").arg(pid).status();
        for _ in 0..100 {
            let alive = Command::new("kill")
                .args(["-0", pid])
                .stderr(Stdio::null())
                .status()
                .is_ok_and(|s| s.success());
            if !alive {
                break;
            }
            std::thread::sleep(Duration::from_millis(200));
        }
        std::fs::remove_file(&pid_file)?;
        println!("stopped legacy {name} (pid {pid})");
    }
    Ok(())
}

fn wait_for_port(addr: &str, timeout: Duration) -> Result<()> {
    let deadline = std::time::Instant::now() + timeout;
    while std::time::Instant::now() < deadline {
        if std::net::TcpStream::connect(addr).is_ok() {
            return Ok(());
        }
        std::thread::sleep(Duration::from_millis(250));
    }
    bail!("nothing listening on {addr} after {timeout:?}")
}
