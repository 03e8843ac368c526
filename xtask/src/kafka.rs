//! `cargo xtask kafka up|down|status|env|stop-node|start-node [profile]`: the local Kafka
//! brokers the integration tests run against.
//!
//! Kafka comes from Maven Central (see [`dist`]) into `target/kafka-dist/<version>/lib`, resolved
//! once and reused. Each profile runs detached JVMs (`java -cp 'lib/*' kafka.Kafka
//! server.properties`) on its own loopback ports, with everything it writes under
//! `target/kafka/<profile>/`:
//!
//! | profile   | Kafka | what                                                    | bootstrap                    |
//! |-----------|-------|---------------------------------------------------------|------------------------------|
//! | `kraft`   | 4.4.0 | one KRaft node (broker+controller)                      | 127.0.0.1:19092              |
//! | `cluster` | 4.4.0 | three KRaft nodes, each broker+controller, 3 voters     | 127.0.0.1:29092,29093,29094  |
//! | `zk`      | 3.9.1 | ZooKeeper-mode broker and its ZooKeeper (32181)         | 127.0.0.1:39092              |
//! | `secure`  | 4.4.0 | SSL 49093, SASL_SSL/PLAIN 49094, SASL_SSL/SCRAM 49095   | see `target/kafka/secure/env`|
//! | `legacy`  | 2.5.1 | ZooKeeper-mode broker and its ZooKeeper 3.5.8 (52181)   | 127.0.0.1:59092              |
//!
//! Why a `zk` profile: only a ZooKeeper-mode broker still serves OffsetCommit/OffsetFetch v0
//! (offsets kept in ZooKeeper) and the oldest API versions, which KafkaEx's legacy API used.
//! Why `legacy`: 2.5.1 is the release Elixir KafkaEx's CI ran, so it has the version ranges
//! KafkaEx users' brokers answered with (Produce and OffsetCommit up to v8, Fetch v11,
//! OffsetFetch v7, CreateTopics v5, ApiVersions v3); the `zk` profile's 3.9 accepts much newer
//! versions. Both ZooKeeper profiles are set up the same way (see [`Profile::zookeeper`]);
//! 2.5.1 (Scala 2.13.1, ZooKeeper 3.5.8) runs on Java 17 with the same JVM options as the others.
//!
//! Layout of a profile directory: `node-<id>/` (or `zookeeper/`) holding the process's
//! `server.properties`, `data/`, `pid` and `<name>.log`; the logging config; for `secure`, the
//! certificates (`ca.pem`, `truststore.p12`, `broker.p12`) and the `env` file. `down` stops the
//! processes and deletes `data/`, keeping the logs. A later `up` starts from empty storage.
//!
//! SCRAM on `secure` works with the Java client but not with kcat from Debian (librdkafka 2.0.2):
//! librdkafka before 2.6.1 repeats the client nonce in its client-final-message, and Kafka 4.x
//! checks that nonce strictly (RFC 5802). Our own client must send the server's nonce verbatim.
//!
//! Broker settings the tests rely on: topics auto-created with 3 partitions, replication factor
//! 1 (3 on `cluster`, where internal topics also use 3 and min ISR 2), group rebalances without
//! the initial delay, topic deletion enabled, 8 MiB segments, one-hour retention, 512 MiB heap.

mod certs;
mod dist;
mod probe;
mod process;

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{bail, ensure, Context, Result};

use self::probe::Readiness;

/// Kafka release run by the KRaft profiles.
const KRAFT_VERSION: &str = "4.4.0";
/// Kafka release of the `zk` profile: 3.9 is the last line with ZooKeeper mode (removed in 4.0).
const ZK_VERSION: &str = "3.9.1";
/// Kafka release of the `legacy` profile: what Elixir KafkaEx's CI ran.
const LEGACY_VERSION: &str = "2.5.1";
/// How long a start may take before we give up: JVM start, storage load and (for the cluster)
/// a controller election, all on two cores.
const START_TIMEOUT: Duration = Duration::from_secs(90);
/// The same for the three-node cluster, whose JVMs start at once on the same two cores.
const CLUSTER_START_TIMEOUT: Duration = Duration::from_secs(180);
/// Grace period between SIGTERM and SIGKILL on `down` (its data is deleted anyway).
const DOWN_GRACE: Duration = Duration::from_secs(20);
/// Grace period for `stop-node`, whose controlled shutdown should hand leadership over cleanly.
const STOP_NODE_GRACE: Duration = Duration::from_secs(60);
/// Log lines printed when a start fails.
const LOG_TAIL: usize = 80;

/// User known to the `secure` broker for both PLAIN and SCRAM-SHA-256/512.
const SECURE_USER: &str = "alice";
/// That user's password.
const SECURE_PASSWORD: &str = "alice-secret";

/// The Kafka release the `kraft` profile runs (`KAFKAEX_KAFKA_VERSION` overrides it).
pub(crate) fn kraft_version() -> String {
    Profile::Kraft.version()
}

/// `target/kafka-dist/<version>/lib`: the broker's jars plus `kafka-tools` (the perf tools and
/// `TopicCommand`), resolved with Maven on first use.
pub(crate) fn dist_lib(root: &Path, version: &str) -> Result<PathBuf> {
    dist::ensure(root, version)
}

/// Sends ApiVersions to `addr`; the number of APIs the broker listed, or why not.
pub(crate) fn api_versions(addr: &str, timeout: Duration) -> Result<usize> {
    probe::api_versions(addr, timeout)
}

/// Entry point of `cargo xtask kafka ...`.
pub(crate) fn run(args: &[String]) -> Result<()> {
    let root = crate::workspace_root();
    let sub = args.first().map(String::as_str).unwrap_or("help");
    let rest = &args[args.len().min(1)..];
    match sub {
        "up" => {
            for p in profiles_arg(rest)? {
                up(&root, p)?;
            }
            Ok(())
        }
        "down" => {
            for p in profiles_arg(rest)? {
                down(&root, p)?;
            }
            Ok(())
        }
        "status" => status(&root, rest),
        "env" => {
            for p in Profile::ALL {
                if profile_state(&root, p) == State::Up {
                    for (k, v) in p.env(&root) {
                        println!("export {k}={v}");
                    }
                }
            }
            Ok(())
        }
        "stop-node" | "start-node" => {
            let [profile, id] = rest else {
                bail!("usage: cargo xtask kafka {sub} <profile> <node-id>");
            };
            let profile = Profile::parse(profile)?;
            let id: u32 = id.parse().with_context(|| format!("bad node id {id:?}"))?;
            if sub == "stop-node" {
                stop_node(&root, profile, id)
            } else {
                start_node(&root, profile, id)
            }
        }
        "help" | "--help" | "-h" => {
            eprintln!("{USAGE}");
            Ok(())
        }
        other => {
            eprintln!("{USAGE}");
            bail!("unknown kafka subcommand {other:?}")
        }
    }
}

/// Usage of `cargo xtask kafka`.
const USAGE: &str = "usage: cargo xtask kafka <subcommand>\n\
  up [PROFILE|all]            start a profile (default kraft) and print its KAFKAEX_* variables\n\
  down [PROFILE|all]          stop a profile (default kraft) and delete its data\n\
  status [PROFILE]            say which profiles are up\n\
  env                         print `export` lines for the profiles that are up\n\
  stop-node PROFILE NODE_ID   stop one node (e.g. `stop-node cluster 2`), keeping its data\n\
  start-node PROFILE NODE_ID  start a stopped node again\n\
profiles: kraft (127.0.0.1:19092), cluster (29092-29094), zk (39092), secure (49092-49095),\n\
  legacy (Kafka 2.5.1, 59092)";

fn profiles_arg(rest: &[String]) -> Result<Vec<Profile>> {
    match rest {
        [] => Ok(vec![Profile::Kraft]),
        [one] if one == "all" => Ok(Profile::ALL.to_vec()),
        names => names.iter().map(|n| Profile::parse(n)).collect(),
    }
}

/// A named set of broker processes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Profile {
    /// One KRaft node.
    Kraft,
    /// ZooKeeper-mode broker plus ZooKeeper.
    Zk,
    /// Three KRaft nodes.
    Cluster,
    /// One KRaft node with TLS and SASL listeners.
    Secure,
    /// Kafka 2.5.1 in ZooKeeper mode plus its ZooKeeper.
    Legacy,
}

impl Profile {
    const ALL: [Profile; 5] = [
        Profile::Kraft,
        Profile::Zk,
        Profile::Legacy,
        Profile::Cluster,
        Profile::Secure,
    ];

    fn parse(name: &str) -> Result<Self> {
        Self::ALL
            .into_iter()
            .find(|p| p.name() == name)
            .with_context(|| {
                let names: Vec<&str> = Self::ALL.iter().map(|p| p.name()).collect();
                format!("unknown profile {name:?} ({}, all)", names.join(", "))
            })
    }

    fn name(self) -> &'static str {
        match self {
            Profile::Kraft => "kraft",
            Profile::Zk => "zk",
            Profile::Cluster => "cluster",
            Profile::Secure => "secure",
            Profile::Legacy => "legacy",
        }
    }

    fn version(self) -> String {
        // Overridable to try another release without editing code.
        let (var, default) = match self {
            Profile::Zk => ("KAFKAEX_KAFKA_ZK_VERSION", ZK_VERSION),
            Profile::Legacy => ("KAFKAEX_KAFKA_LEGACY_VERSION", LEGACY_VERSION),
            _ => ("KAFKAEX_KAFKA_VERSION", KRAFT_VERSION),
        };
        std::env::var(var).unwrap_or_else(|_| default.to_string())
    }

    fn dir(self, root: &Path) -> PathBuf {
        root.join("target/kafka").join(self.name())
    }

    /// The KRaft nodes (or the one ZooKeeper-mode broker): id and PLAINTEXT port.
    fn nodes(self) -> Vec<(u32, u16)> {
        match self {
            Profile::Kraft => vec![(1, 19092)],
            Profile::Cluster => vec![(1, 29092), (2, 29093), (3, 29094)],
            Profile::Zk => vec![(0, 39092)],
            Profile::Secure => vec![(1, 49092)],
            Profile::Legacy => vec![(0, 59092)],
        }
    }

    /// A node's controller port (KRaft profiles).
    fn controller_port(self, id: u32) -> u16 {
        match self {
            Profile::Kraft => 19093,
            Profile::Cluster => 29190 + id as u16,
            Profile::Secure => 49096,
            Profile::Zk | Profile::Legacy => unreachable!("no KRaft controller in ZooKeeper mode"),
        }
    }

    /// ZooKeeper's client address, for the profiles whose broker runs in ZooKeeper mode.
    fn zookeeper(self) -> Option<&'static str> {
        match self {
            Profile::Zk => Some("127.0.0.1:32181"),
            Profile::Legacy => Some("127.0.0.1:52181"),
            Profile::Kraft | Profile::Cluster | Profile::Secure => None,
        }
    }
    /// The TLS listeners of the `secure` profile: name, port, security protocol.
    const SECURE_LISTENERS: [(&'static str, u16, &'static str); 3] = [
        ("SSL", 49093, "SSL"),
        ("SASL_PLAIN", 49094, "SASL_SSL"),
        ("SASL_SCRAM", 49095, "SASL_SSL"),
    ];

    fn services(self, root: &Path) -> Vec<Service> {
        let dir = self.dir(root);
        let mut out = Vec::new();
        if let Some(zookeeper) = self.zookeeper() {
            out.push(Service {
                name: "zookeeper".into(),
                dir: dir.join("zookeeper"),
                node_id: None,
                main_class: "org.apache.zookeeper.server.quorum.QuorumPeerMain",
                ready: Readiness::Port(zookeeper.into()),
            });
        }
        for (id, port) in self.nodes() {
            let others = if self == Profile::Secure {
                Self::SECURE_LISTENERS
                    .iter()
                    .map(|(_, p, _)| format!("127.0.0.1:{p}"))
                    .collect()
            } else {
                Vec::new()
            };
            out.push(Service {
                name: format!("node-{id}"),
                dir: dir.join(format!("node-{id}")),
                node_id: Some(id),
                main_class: "kafka.Kafka",
                ready: Readiness::ApiVersions(format!("127.0.0.1:{port}"), others),
            });
        }
        out
    }

    /// Every loopback port the profile listens on.
    fn ports(self) -> Vec<u16> {
        let mut ports: Vec<u16> = self.nodes().iter().map(|(_, p)| *p).collect();
        match self.zookeeper() {
            Some(zookeeper) => ports.push(port_of(zookeeper)),
            None => ports.extend(self.nodes().iter().map(|(id, _)| self.controller_port(*id))),
        }
        if self == Profile::Secure {
            ports.extend(Self::SECURE_LISTENERS.iter().map(|(_, p, _)| *p));
        }
        ports
    }

    fn bootstrap(self) -> String {
        let addrs: Vec<String> = match self {
            Profile::Secure => Self::SECURE_LISTENERS
                .iter()
                .take(1)
                .map(|(_, p, _)| format!("127.0.0.1:{p}"))
                .collect(),
            _ => self
                .nodes()
                .iter()
                .map(|(_, p)| format!("127.0.0.1:{p}"))
                .collect(),
        };
        addrs.join(",")
    }

    /// The `KAFKAEX_*` variables describing a running profile.
    fn env(self, root: &Path) -> Vec<(String, String)> {
        let var = |k: &str, v: String| (k.to_string(), v);
        match self {
            Profile::Kraft => vec![var("KAFKAEX_BOOTSTRAP_KRAFT", self.bootstrap())],
            Profile::Zk => vec![
                var("KAFKAEX_BOOTSTRAP_ZK", self.bootstrap()),
                var(
                    "KAFKAEX_ZOOKEEPER_ZK",
                    self.zookeeper().unwrap_or_default().into(),
                ),
            ],
            Profile::Legacy => vec![
                var("KAFKAEX_BOOTSTRAP_LEGACY", self.bootstrap()),
                var(
                    "KAFKAEX_ZOOKEEPER_LEGACY",
                    self.zookeeper().unwrap_or_default().into(),
                ),
            ],
            Profile::Cluster => {
                let nodes: Vec<String> = self
                    .nodes()
                    .iter()
                    .map(|(id, p)| format!("{id}@127.0.0.1:{p}"))
                    .collect();
                let mut env = vec![
                    var("KAFKAEX_BOOTSTRAP_CLUSTER", self.bootstrap()),
                    // Which node id listens where, for tests that stop one with
                    // `$KAFKAEX_XTASK kafka stop-node cluster <id>`.
                    var("KAFKAEX_CLUSTER_NODES", nodes.join(",")),
                ];
                if let Ok(exe) = std::env::current_exe() {
                    env.push(var("KAFKAEX_XTASK", exe.display().to_string()));
                }
                env
            }
            Profile::Secure => {
                let mut env = vec![var(
                    "KAFKAEX_SECURE_ENV",
                    self.dir(root).join("env").display().to_string(),
                )];
                env.extend(secure_env(root));
                env
            }
        }
    }

    fn start_timeout(self) -> Duration {
        if self == Profile::Cluster {
            CLUSTER_START_TIMEOUT
        } else {
            START_TIMEOUT
        }
    }

    /// Log config file name and the JVM property pointing at it: log4j 2 on Kafka 4.x, reload4j
    /// (log4j 1 API) on 2.x and 3.x.
    fn log_config(self, root: &Path) -> (PathBuf, String, &'static str) {
        if dist::uses_log4j1(&self.version()) {
            let path = self.dir(root).join("log4j.properties");
            let prop = format!("-Dlog4j.configuration=file:{}", path.display());
            (path, prop, LOG4J1)
        } else {
            let path = self.dir(root).join("log4j2.properties");
            let prop = format!("-Dlog4j2.configurationFile={}", path.display());
            (path, prop, LOG4J2)
        }
    }
}

/// Broker logs: INFO (what a failed start needs), minus the chatty client internals.
const LOG4J2: &str = "status = warn\n\
appender.out.type = Console\n\
appender.out.name = OUT\n\
appender.out.layout.type = PatternLayout\n\
appender.out.layout.pattern = [%d] %p %m (%c)%n\n\
rootLogger.level = INFO\n\
rootLogger.appenderRef.out.ref = OUT\n\
logger.clients.name = org.apache.kafka.clients\n\
logger.clients.level = WARN\n";

/// The same for reload4j.
const LOG4J1: &str = "log4j.rootLogger=INFO, out\n\
log4j.appender.out=org.apache.log4j.ConsoleAppender\n\
log4j.appender.out.layout=org.apache.log4j.PatternLayout\n\
log4j.appender.out.layout.ConversionPattern=[%d] %p %m (%c)%n\n\
log4j.logger.org.apache.kafka.clients=WARN\n";

/// One JVM of a profile.
#[derive(Debug)]
struct Service {
    /// `node-<id>` or `zookeeper`.
    name: String,
    /// `target/kafka/<profile>/<name>`.
    dir: PathBuf,
    /// The Kafka node id (`None` for ZooKeeper).
    node_id: Option<u32>,
    main_class: &'static str,
    ready: Readiness,
}

impl Service {
    fn config(&self) -> PathBuf {
        self.dir.join(if self.node_id.is_some() {
            "server.properties"
        } else {
            "zookeeper.properties"
        })
    }

    fn log(&self) -> PathBuf {
        self.dir.join(format!("{}.log", self.name))
    }

    fn pid_file(&self) -> PathBuf {
        self.dir.join("pid")
    }

    fn data(&self) -> PathBuf {
        self.dir.join("data")
    }

    /// Its pid, if it is running.
    fn pid(&self) -> Option<u32> {
        process::running_pid(&self.pid_file(), &self.config())
    }

    fn jvm_args(&self, log_prop: &str) -> Vec<String> {
        let heap = if self.node_id.is_some() {
            "-Xmx512m"
        } else {
            "-Xmx256m"
        };
        [
            heap,
            "-Xms128m",
            "-XX:+UseG1GC",
            "-XX:MaxGCPauseMillis=20",
            "-XX:+ExitOnOutOfMemoryError",
            "-Djava.awt.headless=true",
            log_prop,
        ]
        .map(String::from)
        .to_vec()
    }

    fn spawn(&self, lib: &Path, log_prop: &str) -> Result<u32> {
        let pid = process::spawn_java(
            lib,
            &self.jvm_args(log_prop),
            self.main_class,
            &self.config(),
            &self.log(),
            &self.pid_file(),
        )?;
        eprintln!("xtask kafka:   started {} (pid {pid})", self.name);
        Ok(pid)
    }

    fn wait_ready(&self, deadline: Instant) -> Result<()> {
        // Liveness by the recorded pid alone: right after spawn the child may not have exec'd
        // `java` yet (its command line is still ours, without the config marker), so the
        // marker check of `pid()` would call a starting JVM dead.
        let pid = process::recorded_pid(&self.pid_file());
        probe::wait_ready(&self.name, &self.ready, deadline, || {
            pid.is_some_and(process::is_alive)
        })
        .map_err(|e| {
            anyhow::anyhow!(
                "{e:#}\n--- last {LOG_TAIL} lines of {} ---\n{}\n---",
                self.log().display(),
                process::tail(&self.log(), LOG_TAIL)
            )
        })
    }
}

/// Whether a profile runs.
#[derive(Debug, PartialEq, Eq)]
enum State {
    Up,
    Partial,
    Down,
}

fn profile_state(root: &Path, profile: Profile) -> State {
    let services = profile.services(root);
    let running = services.iter().filter(|s| s.pid().is_some()).count();
    match running {
        0 => State::Down,
        n if n == services.len() => State::Up,
        _ => State::Partial,
    }
}

fn up(root: &Path, profile: Profile) -> Result<()> {
    let started = Instant::now();
    let version = profile.version();
    let lib = dist::ensure(root, &version)?;
    let services = profile.services(root);
    let (_, log_prop, _) = profile.log_config(root);
    let deadline = Instant::now() + profile.start_timeout();
    match profile_state(root, profile) {
        State::Up => {
            eprintln!(
                "xtask kafka: {} already running, checking it",
                profile.name()
            );
            for s in &services {
                s.wait_ready(deadline)?;
            }
        }
        State::Partial => {
            // Some node was stopped with `stop-node`: start the rest on their existing data.
            eprintln!(
                "xtask kafka: {} partly running, starting the stopped processes",
                profile.name()
            );
            for s in &services {
                if s.pid().is_none() {
                    ensure!(
                        s.data().exists(),
                        "{} has no data; run `cargo xtask kafka down {p}` then `up {p}`",
                        s.name,
                        p = profile.name()
                    );
                    s.spawn(&lib, &log_prop)?;
                }
                s.wait_ready(deadline)?;
            }
        }
        State::Down => {
            eprintln!("xtask kafka: starting {} (Kafka {version})", profile.name());
            // One retry from scratch: a JVM that dies at birth (seen once for ZooKeeper, with an
            // empty log) should not fail a whole CI run; a second failure is reported.
            let mut deadline = deadline;
            for attempt in 1..=2 {
                match start_fresh(root, profile, &lib, &services, deadline) {
                    Ok(()) => break,
                    Err(e) => {
                        // Leave nothing half-started behind; the logs stay for a look.
                        let _ = stop_services(&services, DOWN_GRACE);
                        if attempt == 2 {
                            return Err(e.context(format!("starting profile {}", profile.name())));
                        }
                        eprintln!(
                            "xtask kafka: starting {} failed, retrying once from scratch: {e:#}",
                            profile.name()
                        );
                        deadline = Instant::now() + profile.start_timeout();
                    }
                }
            }
        }
    }
    eprintln!(
        "xtask kafka: {} up in {:.1?}",
        profile.name(),
        started.elapsed()
    );
    for (k, v) in profile.env(root) {
        println!("{k}={v}");
    }
    Ok(())
}

fn start_fresh(
    root: &Path,
    profile: Profile,
    lib: &Path,
    services: &[Service],
    deadline: Instant,
) -> Result<()> {
    let dir = profile.dir(root);
    // Strays: processes of ours whose pid file went missing.
    let strays: Vec<u32> = services
        .iter()
        .flat_map(|s| process::find_by_marker(&s.config()))
        .collect();
    if !strays.is_empty() {
        eprintln!("xtask kafka: stopping stray processes {strays:?}");
        process::stop(&strays, DOWN_GRACE)?;
    }
    for port in profile.ports() {
        ensure!(
            std::net::TcpListener::bind(("127.0.0.1", port)).is_ok(),
            "port 127.0.0.1:{port} (profile {}) is taken by another process (`ss -ltnp` names it)",
            profile.name()
        );
    }
    if dir.exists() {
        std::fs::remove_dir_all(&dir).with_context(|| format!("cleaning {}", dir.display()))?;
    }
    for s in services {
        std::fs::create_dir_all(s.data())?;
    }
    let (log_path, log_prop, log_text) = profile.log_config(root);
    std::fs::write(&log_path, log_text)?;

    let mut format_extra = Vec::new();
    let mut tls = None;
    if profile == Profile::Secure {
        let t = Instant::now();
        let certs = certs::generate(&dir)?;
        eprintln!(
            "xtask kafka:   certificates made in {:.1?}: CA {} (truststore {})",
            t.elapsed(),
            certs.ca_pem.display(),
            certs.truststore.display()
        );
        for mechanism in ["SCRAM-SHA-256", "SCRAM-SHA-512"] {
            format_extra.push("--add-scram".to_string());
            format_extra.push(format!(
                "{mechanism}=[name={SECURE_USER},password={SECURE_PASSWORD}]"
            ));
        }
        let env: String = secure_env(root)
            .into_iter()
            .map(|(k, v)| format!("{k}={v}\n"))
            .collect();
        std::fs::write(dir.join("env"), env)?;
        tls = Some(certs);
    }

    for s in services {
        let text = match s.node_id {
            None => zookeeper_properties(profile, s),
            Some(id) if profile.zookeeper().is_some() => zk_broker_properties(profile, s, id),
            Some(id) => kraft_properties(profile, s, id, tls.as_ref()),
        };
        std::fs::write(s.config(), text)?;
    }

    if profile.zookeeper().is_none() {
        let t = Instant::now();
        format_storage(lib, &log_prop, services, &format_extra)?;
        eprintln!("xtask kafka:   storage formatted in {:.1?}", t.elapsed());
    }

    let t = Instant::now();
    for s in services {
        s.spawn(lib, &log_prop)?;
        // ZooKeeper must be up before its broker; KRaft nodes start together (a quorum of
        // voters elects the controller, so none can be ready alone).
        if s.node_id.is_none() {
            s.wait_ready(deadline)?;
        }
    }
    for s in services {
        s.wait_ready(deadline)?;
    }
    eprintln!(
        "xtask kafka:   {} ready {:.1?} after launch",
        profile.name(),
        t.elapsed()
    );
    Ok(())
}

/// Settings shared by every broker; `rf` is the replication factor of topics and internal
/// topics, `min_isr` the transaction log's minimum ISR.
fn common_properties(data: &Path, rf: u16, min_isr: u16) -> String {
    format!(
        "log.dirs={data}\n\
         num.partitions=3\n\
         default.replication.factor={rf}\n\
         min.insync.replicas=1\n\
         auto.create.topics.enable=true\n\
         delete.topic.enable=true\n\
         offsets.topic.replication.factor={rf}\n\
         offsets.topic.num.partitions=10\n\
         transaction.state.log.replication.factor={rf}\n\
         transaction.state.log.min.isr={min_isr}\n\
         transaction.state.log.num.partitions=10\n\
         group.initial.rebalance.delay.ms=0\n\
         log.segment.bytes=8388608\n\
         log.retention.ms=3600000\n\
         log.retention.check.interval.ms=60000\n\
         # Two cores for up to three brokers: few threads each.\n\
         num.network.threads=2\n\
         num.io.threads=2\n\
         background.threads=2\n\
         num.recovery.threads.per.data.dir=1\n\
         log.cleaner.threads=1\n\
         log.cleaner.dedupe.buffer.size=8388608\n",
        data = data.display()
    )
}

fn kraft_properties(
    profile: Profile,
    s: &Service,
    id: u32,
    tls: Option<&certs::TestCerts>,
) -> String {
    let nodes = profile.nodes();
    let (rf, min_isr) = if nodes.len() >= 3 { (3, 2) } else { (1, 1) };
    let voters: Vec<String> = nodes
        .iter()
        .map(|(v, _)| format!("{v}@127.0.0.1:{}", profile.controller_port(*v)))
        .collect();
    let port = nodes
        .iter()
        .find(|(n, _)| *n == id)
        .map(|(_, p)| *p)
        .expect("a node of this profile");
    let controller = format!("CONTROLLER://127.0.0.1:{}", profile.controller_port(id));
    let mut advertised = vec![format!("PLAINTEXT://127.0.0.1:{port}")];
    let mut protocols = vec![
        "PLAINTEXT:PLAINTEXT".to_string(),
        "CONTROLLER:PLAINTEXT".into(),
    ];
    let mut extra = String::new();
    if let Some(tls) = tls {
        for (name, port, protocol) in Profile::SECURE_LISTENERS {
            advertised.push(format!("{name}://127.0.0.1:{port}"));
            protocols.push(format!("{name}:{protocol}"));
        }
        extra = format!(
            "ssl.keystore.type=PKCS12\n\
             ssl.keystore.location={keystore}\n\
             ssl.keystore.password={pw}\n\
             ssl.key.password={pw}\n\
             ssl.client.auth=none\n\
             sasl.enabled.mechanisms=PLAIN,SCRAM-SHA-256,SCRAM-SHA-512\n\
             listener.name.sasl_plain.sasl.enabled.mechanisms=PLAIN\n\
             listener.name.sasl_plain.plain.sasl.jaas.config=\
             org.apache.kafka.common.security.plain.PlainLoginModule required \
             user_{user}=\"{password}\" user_bob=\"bob-secret\";\n\
             listener.name.sasl_scram.sasl.enabled.mechanisms=SCRAM-SHA-256,SCRAM-SHA-512\n\
             listener.name.sasl_scram.scram-sha-256.sasl.jaas.config=\
             org.apache.kafka.common.security.scram.ScramLoginModule required;\n\
             listener.name.sasl_scram.scram-sha-512.sasl.jaas.config=\
             org.apache.kafka.common.security.scram.ScramLoginModule required;\n",
            keystore = tls.keystore.display(),
            pw = certs::STORE_PASSWORD,
            user = SECURE_USER,
            password = SECURE_PASSWORD,
        );
    }
    let listeners = advertised
        .iter()
        .cloned()
        .chain([controller])
        .collect::<Vec<_>>();
    format!(
        "# Written by `cargo xtask kafka up {profile}`.\n\
         process.roles=broker,controller\n\
         node.id={id}\n\
         controller.quorum.voters={voters}\n\
         controller.listener.names=CONTROLLER\n\
         inter.broker.listener.name=PLAINTEXT\n\
         listeners={listeners}\n\
         advertised.listeners={advertised}\n\
         listener.security.protocol.map={protocols}\n\
         share.coordinator.state.topic.replication.factor={rf}\n\
         share.coordinator.state.topic.min.isr={min_isr}\n\
         {common}{extra}",
        profile = profile.name(),
        voters = voters.join(","),
        listeners = listeners.join(","),
        advertised = advertised.join(","),
        protocols = protocols.join(","),
        common = common_properties(&s.data(), rf, min_isr),
    )
}

/// A ZooKeeper-mode broker (`zk`, `legacy`). Every setting here and in [`common_properties`]
/// exists in 2.5 as in 3.9; the message format and inter-broker protocol stay at the release's
/// defaults (its newest).
fn zk_broker_properties(profile: Profile, s: &Service, id: u32) -> String {
    let port = profile.nodes()[0].1;
    format!(
        "# Written by `cargo xtask kafka up {profile}`.\n\
         broker.id={id}\n\
         listeners=PLAINTEXT://127.0.0.1:{port}\n\
         advertised.listeners=PLAINTEXT://127.0.0.1:{port}\n\
         zookeeper.connect={zk}\n\
         zookeeper.connection.timeout.ms=30000\n\
         {common}",
        profile = profile.name(),
        zk = profile.zookeeper().expect("a ZooKeeper-mode profile"),
        common = common_properties(&s.data(), 1, 1),
    )
}

fn zookeeper_properties(profile: Profile, s: &Service) -> String {
    let zookeeper = profile.zookeeper().expect("a ZooKeeper-mode profile");
    let (host, port) = zookeeper.split_once(':').expect("host:port");
    format!(
        "# Written by `cargo xtask kafka up {profile}`.\n\
         dataDir={}\n\
         clientPort={port}\n\
         clientPortAddress={host}\n\
         maxClientCnxns=0\n\
         admin.enableServer=false\n\
         4lw.commands.whitelist=ruok,srvr,stat\n",
        s.data().display(),
        profile = profile.name(),
    )
}

/// The port of a `host:port` constant.
fn port_of(addr: &str) -> u16 {
    addr.rsplit_once(':')
        .and_then(|(_, p)| p.parse().ok())
        .expect("a host:port constant")
}

/// The variables of `target/kafka/secure/env`.
fn secure_env(root: &Path) -> Vec<(String, String)> {
    let certs = Profile::Secure.dir(root);
    let addr = |i: usize| format!("127.0.0.1:{}", Profile::SECURE_LISTENERS[i].1);
    [
        ("KAFKAEX_SECURE_SSL", addr(0)),
        ("KAFKAEX_SECURE_SASL_PLAIN", addr(1)),
        ("KAFKAEX_SECURE_SASL_SCRAM", addr(2)),
        ("KAFKAEX_SECURE_PLAINTEXT", "127.0.0.1:49092".to_string()),
        (
            "KAFKAEX_SECURE_CA_PEM",
            certs.join("ca.pem").display().to_string(),
        ),
        // The name to verify the broker's certificate against (its SANs: localhost, 127.0.0.1).
        ("KAFKAEX_SECURE_TLS_SERVER_NAME", "localhost".into()),
        (
            "KAFKAEX_SECURE_TRUSTSTORE",
            certs.join("truststore.p12").display().to_string(),
        ),
        (
            "KAFKAEX_SECURE_TRUSTSTORE_PASSWORD",
            certs::STORE_PASSWORD.into(),
        ),
        ("KAFKAEX_SECURE_PLAIN_USERNAME", SECURE_USER.into()),
        ("KAFKAEX_SECURE_PLAIN_PASSWORD", SECURE_PASSWORD.into()),
        ("KAFKAEX_SECURE_SCRAM_USERNAME", SECURE_USER.into()),
        ("KAFKAEX_SECURE_SCRAM_PASSWORD", SECURE_PASSWORD.into()),
        (
            "KAFKAEX_SECURE_SCRAM_MECHANISMS",
            "SCRAM-SHA-256,SCRAM-SHA-512".into(),
        ),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v))
    .collect()
}

/// Formats every KRaft node's storage with one fresh cluster id, in parallel (each is a JVM start).
fn format_storage(
    lib: &Path,
    log_prop: &str,
    services: &[Service],
    extra: &[String],
) -> Result<()> {
    let cluster_id = random_cluster_id();
    let run = |main: &str| -> Result<Vec<(String, Child)>> {
        services
            .iter()
            .map(|s| {
                let child = Command::new("java")
                    // A short-lived tool: C1 only and a small serial heap start faster.
                    .args(["-Xmx256m", "-XX:TieredStopAtLevel=1", "-XX:+UseSerialGC"])
                    .arg(log_prop)
                    .arg("-cp")
                    .arg(format!("{}/*", lib.display()))
                    .arg(main)
                    .args(["format", "--cluster-id", &cluster_id, "--config"])
                    .arg(s.config())
                    .args(extra)
                    .stdin(Stdio::null())
                    .stdout(Stdio::piped())
                    .stderr(Stdio::piped())
                    .spawn()
                    .context("running java")?;
                Ok((s.name.clone(), child))
            })
            .collect()
    };
    // The tool moved from core (Scala) to the tools module in some releases; try both.
    let mut failures = Vec::new();
    for main in [
        "kafka.tools.StorageTool",
        "org.apache.kafka.tools.StorageTool",
    ] {
        failures.clear();
        let mut missing_class = false;
        for (name, child) in run(main)? {
            let out = child.wait_with_output()?;
            if !out.status.success() {
                let text = format!(
                    "{}{}",
                    String::from_utf8_lossy(&out.stdout),
                    String::from_utf8_lossy(&out.stderr)
                );
                missing_class |= text.contains("Could not find or load main class");
                failures.push(format!(
                    "{name}: {main} format failed ({}):\n{text}",
                    out.status
                ));
            }
        }
        if !missing_class {
            break;
        }
    }
    ensure!(failures.is_empty(), "{}", failures.join("\n"));
    Ok(())
}

/// A random Kafka cluster id: 16 bytes, URL-safe base64 without padding (Kafka's `Uuid` text
/// form).
fn random_cluster_id() -> String {
    use std::hash::{BuildHasher, Hasher};
    let mut bytes = [0u8; 16];
    for (i, chunk) in bytes.chunks_mut(8).enumerate() {
        // RandomState is seeded from the OS per instance: enough randomness for a test cluster.
        let mut h = std::collections::hash_map::RandomState::new().build_hasher();
        h.write_usize(i);
        h.write_u128(
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .unwrap_or_default()
                .as_nanos(),
        );
        chunk.copy_from_slice(&h.finish().to_be_bytes());
    }
    // Kafka never hands out ids whose text starts with '-' (they read as command-line flags).
    bytes[0] &= 0x7f;
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    let mut out = String::new();
    let mut acc: u32 = 0;
    let mut bits = 0;
    for b in bytes {
        acc = (acc << 8) | u32::from(b);
        bits += 8;
        while bits >= 6 {
            bits -= 6;
            out.push(ALPHABET[((acc >> bits) & 63) as usize] as char);
        }
    }
    if bits > 0 {
        out.push(ALPHABET[((acc << (6 - bits)) & 63) as usize] as char);
    }
    out
}

/// Stops every process of `services` (brokers first, then ZooKeeper, which brokers need for a
/// clean shutdown), including strays found by their config path. Returns how many it stopped.
fn stop_services(services: &[Service], grace: Duration) -> Result<usize> {
    let pids_of = |s: &Service| -> Vec<u32> {
        let mut pids = process::find_by_marker(&s.config());
        pids.extend(s.pid());
        pids.sort_unstable();
        pids.dedup();
        pids
    };
    let brokers: Vec<u32> = services
        .iter()
        .filter(|s| s.node_id.is_some())
        .flat_map(pids_of)
        .collect();
    let zookeeper: Vec<u32> = services
        .iter()
        .filter(|s| s.node_id.is_none())
        .flat_map(pids_of)
        .collect();
    let mut killed = process::stop(&brokers, grace)?;
    killed.extend(process::stop(&zookeeper, grace)?);
    if !killed.is_empty() {
        eprintln!("xtask kafka:   pids {killed:?} ignored SIGTERM for {grace:?}; killed");
    }
    for s in services {
        let _ = std::fs::remove_file(s.pid_file());
    }
    Ok(brokers.len() + zookeeper.len())
}

fn down(root: &Path, profile: Profile) -> Result<()> {
    let started = Instant::now();
    let services = profile.services(root);
    let stopped = stop_services(&services, DOWN_GRACE)?;
    for s in &services {
        if s.data().exists() {
            std::fs::remove_dir_all(s.data())
                .with_context(|| format!("removing {}", s.data().display()))?;
        }
    }
    let _ = std::fs::remove_file(profile.dir(root).join("env"));
    eprintln!(
        "xtask kafka: {} down ({stopped} processes stopped in {:.1?}; logs kept in {})",
        profile.name(),
        started.elapsed(),
        profile.dir(root).display()
    );
    Ok(())
}

fn node(root: &Path, profile: Profile, id: u32) -> Result<Service> {
    profile
        .services(root)
        .into_iter()
        .find(|s| s.node_id == Some(id))
        .with_context(|| {
            let ids: Vec<u32> = profile.nodes().iter().map(|(n, _)| *n).collect();
            format!(
                "profile {} has no node {id} (nodes: {ids:?})",
                profile.name()
            )
        })
}

fn stop_node(root: &Path, profile: Profile, id: u32) -> Result<()> {
    let s = node(root, profile, id)?;
    let Some(pid) = s.pid() else {
        eprintln!("xtask kafka: {} {} is not running", profile.name(), s.name);
        return Ok(());
    };
    let started = Instant::now();
    let killed = process::stop(&[pid], STOP_NODE_GRACE)?;
    let _ = std::fs::remove_file(s.pid_file());
    eprintln!(
        "xtask kafka: stopped {} {} (pid {pid}) in {:.1?}{}",
        profile.name(),
        s.name,
        started.elapsed(),
        if killed.is_empty() {
            ""
        } else {
            " (needed SIGKILL)"
        }
    );
    Ok(())
}

fn start_node(root: &Path, profile: Profile, id: u32) -> Result<()> {
    let s = node(root, profile, id)?;
    let deadline = Instant::now() + profile.start_timeout();
    let started = Instant::now();
    if s.pid().is_none() {
        ensure!(
            s.data().exists() && s.config().exists(),
            "{} {} has no data: start the profile with `cargo xtask kafka up {}`",
            profile.name(),
            s.name,
            profile.name()
        );
        let lib = dist::ensure(root, &profile.version())?;
        let (_, log_prop, _) = profile.log_config(root);
        s.spawn(&lib, &log_prop)?;
    }
    s.wait_ready(deadline)?;
    eprintln!(
        "xtask kafka: {} {} ready in {:.1?}",
        profile.name(),
        s.name,
        started.elapsed()
    );
    Ok(())
}

fn status(root: &Path, rest: &[String]) -> Result<()> {
    let profiles = match rest {
        [] => Profile::ALL.to_vec(),
        _ => profiles_arg(rest)?,
    };
    for p in profiles {
        let services = p.services(root);
        let mut parts = Vec::new();
        for s in &services {
            let what = match (s.pid(), &s.ready) {
                (None, _) => "down".to_string(),
                (Some(pid), Readiness::ApiVersions(addr, _)) => {
                    match probe::api_versions(addr, Duration::from_secs(2)) {
                        Ok(n) => format!("pid {pid}, answers ApiVersions ({n} APIs)"),
                        Err(e) => format!("pid {pid}, not answering: {e}"),
                    }
                }
                (Some(pid), Readiness::Port(addr)) => format!(
                    "pid {pid}, {}",
                    if probe::port_open(addr) {
                        "listening"
                    } else {
                        "not listening"
                    }
                ),
            };
            parts.push(format!("{} {what}", s.name));
        }
        let state = match profile_state(root, p) {
            State::Up => "up",
            State::Partial => "partial",
            State::Down => "down",
        };
        println!(
            "{:<8} {:<8} Kafka {:<6} {:<30} {}",
            p.name(),
            state,
            p.version(),
            p.bootstrap(),
            parts.join("; ")
        );
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_profile_parses_from_its_name_and_errors_list_them_all() {
        for p in Profile::ALL {
            assert_eq!(Profile::parse(p.name()).unwrap(), p);
        }
        let err = format!("{:#}", Profile::parse("nope").unwrap_err());
        for p in Profile::ALL {
            assert!(err.contains(p.name()), "{err}");
            assert!(USAGE.contains(p.name()), "usage text lacks {}", p.name());
        }
        assert_eq!(
            profiles_arg(&["all".into()]).unwrap(),
            Profile::ALL.to_vec()
        );
        assert_eq!(profiles_arg(&[]).unwrap(), vec![Profile::Kraft]);
    }

    /// Two profiles can run at once (`cargo xtask test` runs them all), so no port may be taken
    /// twice, within a profile or across profiles; and every address a profile advertises is
    /// one it checks before starting.
    #[test]
    fn ports_are_distinct_across_all_profiles() {
        let mut owner = std::collections::BTreeMap::new();
        for p in Profile::ALL {
            for port in p.ports() {
                if let Some(other) = owner.insert(port, p) {
                    panic!("port {port} used by {} and {}", other.name(), p.name());
                }
            }
            let advertised = p
                .bootstrap()
                .split(',')
                .chain(p.zookeeper())
                .map(port_of)
                .collect::<Vec<_>>();
            for port in advertised {
                assert!(p.ports().contains(&port), "{}: {port}", p.name());
            }
        }
    }

    #[test]
    fn legacy_is_kafka_2_5_with_its_own_zookeeper() {
        let root = Path::new("/nonexistent");
        let p = Profile::Legacy;
        if std::env::var_os("KAFKAEX_KAFKA_LEGACY_VERSION").is_none() {
            assert_eq!(p.version(), "2.5.1");
        }
        assert_eq!(p.bootstrap(), "127.0.0.1:59092");
        assert_eq!(
            p.env(root),
            vec![
                ("KAFKAEX_BOOTSTRAP_LEGACY".into(), "127.0.0.1:59092".into()),
                ("KAFKAEX_ZOOKEEPER_LEGACY".into(), "127.0.0.1:52181".into()),
            ]
        );
        let services = p.services(root);
        let names: Vec<&str> = services.iter().map(|s| s.name.as_str()).collect();
        assert_eq!(names, ["zookeeper", "node-0"]);
        let broker = zk_broker_properties(p, &services[1], 0);
        assert!(broker.contains("zookeeper.connect=127.0.0.1:52181\n"));
        assert!(broker.contains("listeners=PLAINTEXT://127.0.0.1:59092\n"));
        assert!(!broker.contains("log.message.format.version"));
        assert!(!broker.contains("inter.broker.protocol.version"));
        assert!(zookeeper_properties(p, &services[0]).contains("clientPort=52181\n"));
        assert!(p
            .log_config(root)
            .1
            .starts_with("-Dlog4j.configuration=file:"));
    }

    /// Each profile's bootstrap variable is its own, so the tests never mix profiles up.
    #[test]
    fn env_variables_do_not_overlap() {
        let root = Path::new("/nonexistent");
        let mut seen = std::collections::BTreeMap::new();
        for p in Profile::ALL {
            for (k, _) in p.env(root) {
                if let Some(other) = seen.insert(k.clone(), p) {
                    // The xtask path is shared on purpose (only `cluster` prints it today).
                    assert_eq!(k, "KAFKAEX_XTASK", "{k}: {} and {}", other.name(), p.name());
                }
            }
        }
    }
}
