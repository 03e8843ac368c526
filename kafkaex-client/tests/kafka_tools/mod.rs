//! Kafka's own command-line tools (`kafka-topics`, `kafka-configs`, `kafka-consumer-groups`,
//! `kafka-get-offsets`, `kafka-cluster`), run as their Java classes from the distribution
//! `cargo xtask kafka` resolves into `target/kafka-dist/<version>/lib` (or
//! `$KAFKAEX_KAFKA_LIB`), to check what the admin calls did against what Kafka reports.
//! Without Java or the distribution, a test skips loudly (stderr and `$KAFKAEX_SKIP_LOG`).
#![allow(dead_code)]

use std::path::PathBuf;
use std::process::Command;

/// The tools of one Kafka version, against one cluster.
pub(crate) struct KafkaTools {
    lib: PathBuf,
    bootstrap: String,
}

fn skip(test: &str, why: &str) {
    let line = format!("SKIPPED {test}: {why}, so Kafka's command-line tools were not run\n");
    let _ = std::io::Write::write_all(&mut std::io::stderr(), line.as_bytes());
    if let Ok(path) = std::env::var("KAFKAEX_SKIP_LOG") {
        if let Ok(mut f) = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(path)
        {
            let _ = std::io::Write::write_all(&mut f, line.as_bytes());
        }
    }
}

impl KafkaTools {
    /// The tools of Kafka `version` for the cluster at `bootstrap`; `None` (after saying so)
    /// when Java or the distribution is missing.
    pub(crate) fn find(test: &str, version: &str, bootstrap: &[String]) -> Option<Self> {
        let lib = std::env::var_os("KAFKAEX_KAFKA_LIB")
            .map(PathBuf::from)
            .unwrap_or_else(|| {
                PathBuf::from(env!("CARGO_MANIFEST_DIR"))
                    .join("../target/kafka-dist")
                    .join(version)
                    .join("lib")
            });
        if !lib.join(format!("kafka-tools-{version}.jar")).exists() {
            skip(
                test,
                &format!(
                    "{} has no kafka-tools jar (`cargo xtask kafka up` resolves it)",
                    lib.display()
                ),
            );
            return None;
        }
        if Command::new("java").arg("-version").output().is_err() {
            skip(test, "`java` is not on the PATH");
            return None;
        }
        Some(Self {
            lib,
            bootstrap: bootstrap.join(","),
        })
    }

    /// Runs tool `class` (`org.apache.kafka.tools.` is prefixed to it unless it starts with
    /// `org.` or `kafka.`) with
    /// `--bootstrap-server` and `args`; its stdout. Panics when it fails.
    pub(crate) fn run(&self, class: &str, args: &[&str]) -> String {
        let class = if class.starts_with("org.") || class.starts_with("kafka.") {
            class.to_owned()
        } else {
            format!("org.apache.kafka.tools.{class}")
        };
        let output = Command::new("java")
            .arg("-cp")
            .arg(format!("{}/*", self.lib.display()))
            .arg("-Dlog4j2.level=error")
            .arg(&class)
            .arg("--bootstrap-server")
            .arg(&self.bootstrap)
            .args(args)
            .output()
            .expect("running java");
        let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
        assert!(
            output.status.success(),
            "{class} {args:?} failed ({}): {}\n{stdout}",
            output.status,
            String::from_utf8_lossy(&output.stderr)
        );
        stdout
    }

    /// `kafka-topics --list`.
    pub(crate) fn topics(&self) -> Vec<String> {
        self.run("TopicCommand", &["--list"])
            .lines()
            .map(str::trim)
            .filter(|l| !l.is_empty())
            .map(str::to_owned)
            .collect()
    }

    /// `kafka-topics --describe --topic`: (partition count, replication factor, configs).
    pub(crate) fn describe_topic(&self, topic: &str) -> (i32, i16, Vec<(String, String)>) {
        let out = self.run("TopicCommand", &["--describe", "--topic", topic]);
        let line = out
            .lines()
            .find(|l| l.contains("PartitionCount"))
            .unwrap_or_else(|| panic!("kafka-topics --describe {topic}: {out}"));
        let field = |name: &str| -> String {
            line.split('\t')
                .find_map(|f| f.trim().strip_prefix(name))
                .map(|v| v.trim().to_owned())
                .unwrap_or_default()
        };
        let configs = field("Configs:")
            .split(',')
            .filter(|kv| !kv.is_empty())
            .filter_map(|kv| kv.split_once('='))
            .map(|(k, v)| (k.to_owned(), v.to_owned()))
            .collect();
        (
            field("PartitionCount:").parse().expect("partition count"),
            field("ReplicationFactor:")
                .parse()
                .expect("replication factor"),
            configs,
        )
    }

    /// `kafka-configs --describe` of an entity (`topics`/`brokers`): its dynamic configs as
    /// `key=value` pairs.
    pub(crate) fn dynamic_configs(&self, entity_type: &str, name: &str) -> Vec<(String, String)> {
        let out = self.run(
            "ConfigCommand",
            &[
                "--describe",
                "--entity-type",
                entity_type,
                "--entity-name",
                name,
            ],
        );
        out.lines()
            .filter(|l| l.starts_with("  "))
            .filter_map(|l| {
                let l = l.trim();
                let kv = l.split(" sensitive=").next()?;
                let (k, v) = kv.split_once('=')?;
                Some((k.to_owned(), v.to_owned()))
            })
            .collect()
    }

    /// `kafka-consumer-groups --list`.
    pub(crate) fn groups(&self) -> Vec<String> {
        self.run("consumer.group.ConsumerGroupCommand", &["--list"])
            .lines()
            .map(str::trim)
            .filter(|l| !l.is_empty())
            .map(str::to_owned)
            .collect()
    }

    /// `kafka-consumer-groups --describe --offsets`: (topic, partition, current offset) rows;
    /// an empty list for a group without offsets.
    pub(crate) fn group_offsets(&self, group: &str) -> Vec<(String, i32, Option<i64>)> {
        let out = self.run(
            "consumer.group.ConsumerGroupCommand",
            &["--describe", "--offsets", "--group", group],
        );
        let mut rows = Vec::new();
        let mut header: Option<Vec<&str>> = None;
        for line in out.lines() {
            let cols: Vec<&str> = line.split_whitespace().collect();
            if cols.first() == Some(&"GROUP") {
                header = Some(cols);
                continue;
            }
            let Some(h) = &header else { continue };
            if cols.len() < 4 || cols[0] != group {
                continue;
            }
            let at = |name: &str| h.iter().position(|c| *c == name).map(|i| cols[i]);
            let (Some(topic), Some(partition), Some(offset)) =
                (at("TOPIC"), at("PARTITION"), at("CURRENT-OFFSET"))
            else {
                continue;
            };
            rows.push((
                topic.to_owned(),
                partition.parse().expect("partition"),
                offset.parse().ok(),
            ));
        }
        rows.sort();
        rows
    }

    /// `kafka-get-offsets --topic --time`: (partition, offset) pairs; an offset the tool
    /// leaves out (no record at that time) is absent.
    pub(crate) fn offsets(&self, topic: &str, time: &str) -> Vec<(i32, i64)> {
        let out = self.run("GetOffsetShell", &["--topic", topic, "--time", time]);
        let mut rows: Vec<(i32, i64)> = out
            .lines()
            .filter_map(|l| {
                let mut parts = l.trim().rsplitn(3, ':');
                let offset = parts.next()?.parse().ok()?;
                let partition = parts.next()?.parse().ok()?;
                (parts.next()? == topic).then_some((partition, offset))
            })
            .collect();
        rows.sort();
        rows
    }

    /// `kafka-cluster cluster-id`.
    pub(crate) fn cluster_id(&self) -> String {
        // ClusterTool takes the subcommand before its options.
        let output = Command::new("java")
            .arg("-cp")
            .arg(format!("{}/*", self.lib.display()))
            .arg("org.apache.kafka.tools.ClusterTool")
            .arg("cluster-id")
            .arg("--bootstrap-server")
            .arg(&self.bootstrap)
            .output()
            .expect("running java");
        let out = String::from_utf8_lossy(&output.stdout).into_owned();
        assert!(output.status.success(), "ClusterTool failed: {out}");
        out.lines()
            .find_map(|l| l.strip_prefix("Cluster ID:"))
            .map(|id| id.trim().to_owned())
            .unwrap_or_else(|| panic!("kafka-cluster cluster-id: {out}"))
    }
}
