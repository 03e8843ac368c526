//! Resolving an Apache Kafka distribution (its runtime jars) from Maven Central.
//!
//! Why Maven and not the release tarball: the machines that run the tests reach package
//! registries only, and Maven Central publishes every jar the broker needs. `kafka_2.13` is the
//! broker (`kafka.Kafka`, and in every version we use `kafka.tools.StorageTool`); `kafka-tools`
//! adds the console producer/consumer and admin commands, handy when poking at a broker by hand.
//! Neither pulls in a logging backend (the release tarball adds one itself), so we add the one
//! that version's scripts use, or the broker would log nothing.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

use anyhow::{bail, Context, Result};

/// Name of the stamp file written next to `lib/` once Maven has copied every jar. It holds the
/// pom it was resolved from, so a changed dependency list resolves again.
const STAMP: &str = "resolved.stamp";

/// Returns `target/kafka-dist/<version>/lib`, resolving it with Maven first unless a previous run
/// already did (for the same pom).
pub(super) fn ensure(root: &Path, version: &str) -> Result<PathBuf> {
    let dir = root.join("target/kafka-dist").join(version);
    let lib = dir.join("lib");
    let pom_text = pom(version);
    let stamp = dir.join(STAMP);
    if std::fs::read_to_string(&stamp).is_ok_and(|s| s == pom_text) && lib.is_dir() {
        return Ok(lib);
    }
    std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
    // A half-copied lib/ from an interrupted run could mix jars of two dependency lists.
    if lib.exists() {
        std::fs::remove_dir_all(&lib).with_context(|| format!("removing {}", lib.display()))?;
    }
    let pom_path = dir.join("pom.xml");
    std::fs::write(&pom_path, &pom_text)?;
    eprintln!(
        "xtask kafka: resolving Kafka {version} from Maven Central into {} (first run only)",
        lib.display()
    );
    let started = Instant::now();
    let output = Command::new("mvn")
        .args(["-B", "-q", "-f"])
        .arg(&pom_path)
        .args(["dependency:copy-dependencies", "-DincludeScope=runtime"])
        .arg(format!("-DoutputDirectory={}", lib.display()))
        .output()
        .context("running mvn (is Maven installed and on PATH?)")?;
    if !output.status.success() {
        eprintln!("{}", String::from_utf8_lossy(&output.stdout));
        eprintln!("{}", String::from_utf8_lossy(&output.stderr));
        bail!(
            "mvn could not resolve Kafka {version} ({}); pom: {}",
            output.status,
            pom_path.display()
        );
    }
    let main_jar = lib.join(format!("kafka_2.13-{version}.jar"));
    if !main_jar.exists() {
        bail!("mvn succeeded but {} is missing", main_jar.display());
    }
    std::fs::write(&stamp, &pom_text)?;
    eprintln!(
        "xtask kafka: resolved Kafka {version} in {:.1?}",
        started.elapsed()
    );
    Ok(lib)
}

/// Whether `version` is a Kafka 3.x (ZooKeeper-capable, log4j 1 era) release.
pub(super) fn is_3x(version: &str) -> bool {
    version.starts_with("3.")
}

/// A pom whose runtime dependencies are the broker's classpath.
fn pom(version: &str) -> String {
    let logging = if is_3x(version) {
        // Kafka 3.x ships reload4j behind slf4j 1.7.
        dep("org.slf4j", "slf4j-reload4j", "1.7.36")
    } else {
        // Kafka 4.x moved to log4j 2 (KIP-653); kafka_2.13 pins slf4j-api 1.7, which would not
        // see an slf4j 2 provider, hence the explicit slf4j-api.
        [
            dep("org.slf4j", "slf4j-api", "2.0.17"),
            dep("org.apache.logging.log4j", "log4j-slf4j2-impl", "2.24.3"),
            dep("org.apache.logging.log4j", "log4j-core", "2.24.3"),
        ]
        .concat()
    };
    format!(
        r#"<?xml version="1.0" encoding="UTF-8"?>
<!-- Written by `cargo xtask kafka`: the runtime classpath of a Kafka {version} broker. -->
<project xmlns="http://maven.apache.org/POM/4.0.0">
  <modelVersion>4.0.0</modelVersion>
  <groupId>io.kafkaex</groupId>
  <artifactId>kafka-dist</artifactId>
  <version>{version}</version>
  <packaging>pom</packaging>
  <dependencies>
{broker}{tools}{logging}  </dependencies>
  <build>
    <plugins>
      <plugin>
        <groupId>org.apache.maven.plugins</groupId>
        <artifactId>maven-dependency-plugin</artifactId>
        <version>3.8.1</version>
      </plugin>
    </plugins>
  </build>
</project>
"#,
        broker = dep("org.apache.kafka", "kafka_2.13", version),
        tools = dep("org.apache.kafka", "kafka-tools", version),
    )
}

fn dep(group: &str, artifact: &str, version: &str) -> String {
    format!(
        "    <dependency><groupId>{group}</groupId><artifactId>{artifact}</artifactId>\
         <version>{version}</version></dependency>\n"
    )
}
