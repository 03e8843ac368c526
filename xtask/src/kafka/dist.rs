//! Resolving an Apache Kafka distribution (its runtime jars) from Maven Central.
//!
//! Why Maven and not the release tarball: the machines that run the tests reach package
//! registries only, and Maven Central publishes every jar the broker needs. `kafka_2.13` is the
//! broker (`kafka.Kafka`, and in every version we use `kafka.tools.StorageTool`); `kafka-tools`
//! adds the console producer/consumer and admin commands, handy when poking at a broker by hand.
//! Neither pulls in a logging backend (the release tarball adds one itself), so we add the one
//! that version's scripts use, or the broker would log nothing.
//!
//! Kafka 2.x (the `legacy` profile) is different on two counts: its `kafka-tools` is only the
//! Connect/Trogdor tooling (Jersey, Jetty: slow to resolve, never used here; the console tools
//! are in `kafka_2.13` itself), and it drags in `slf4j-log4j12` with log4j 1.2.17. So for 2.x
//! the pom lists the broker alone plus reload4j, the drop-in log4j 1.2 that Kafka itself moved
//! to in 2.8.2/3.x: the same `org.apache.log4j` API (Kafka's `Log4jController` uses it) and the
//! same `log4j.properties`, without 1.2.17's known vulnerabilities.

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

/// The major version of a Kafka release (`2` for `2.5.1`), `None` when it does not start with
/// a number.
fn major(version: &str) -> Option<u32> {
    version.split('.').next()?.parse().ok()
}

/// Whether `version` logs through the log4j 1 API (reload4j): every release before 4.0, where
/// KIP-653 moved to log4j 2. An unparsable version is taken for a new one.
pub(super) fn uses_log4j1(version: &str) -> bool {
    major(version).is_some_and(|m| m < 4)
}

/// Whether `kafka-tools` is worth resolving: from 3.x on it holds the command-line tools; before,
/// it held only Connect/Trogdor tooling with a large web stack (see the module docs).
fn wants_tools(version: &str) -> bool {
    major(version).is_none_or(|m| m >= 3)
}

/// A pom whose runtime dependencies are the broker's classpath.
fn pom(version: &str) -> String {
    let logging = if uses_log4j1(version) {
        // Kafka 3.x ships reload4j behind slf4j 1.7; 2.x gets the same (see the module docs).
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
        tools = if wants_tools(version) {
            dep("org.apache.kafka", "kafka-tools", version)
        } else {
            String::new()
        },
    )
}

fn dep(group: &str, artifact: &str, version: &str) -> String {
    format!(
        "    <dependency><groupId>{group}</groupId><artifactId>{artifact}</artifactId>\
         <version>{version}</version></dependency>\n"
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn logging_and_tools_follow_the_major_version() {
        for (version, log4j1, tools) in [
            ("2.5.1", true, false),
            ("3.9.1", true, true),
            ("4.4.0", false, true),
            ("10.0.0", false, true),
        ] {
            assert_eq!(uses_log4j1(version), log4j1, "{version}");
            assert_eq!(wants_tools(version), tools, "{version}");
            let pom = pom(version);
            assert_eq!(pom.contains("slf4j-reload4j"), log4j1, "{version}");
            assert_eq!(pom.contains("log4j-core"), !log4j1, "{version}");
            assert_eq!(pom.contains("kafka-tools"), tools, "{version}");
            assert!(pom.contains(&format!(
                "<artifactId>kafka_2.13</artifactId><version>{version}</version>"
            )));
        }
    }
}
