//! `cargo xtask codegen [--check] [--specs DIR|JAR]... [--out DIR]`: generates
//! `kafkaex-protocol/src/generated/` from Kafka's JSON message specs.
//!
//! The specs come from several sources, oldest first: by default the directory in
//! `../shared/kafka-protocol/messages` (the 3.9-era specs with every version from 0 up) and the
//! `kafka-clients` jar of Kafka [`KAFKA_CLIENTS_VERSION`] (resolved with Maven into
//! `target/kafka-specs/`), whose specs cut the oldest versions and add the newest. `--specs`,
//! repeated, replaces that list.
//!
//! The pipeline is spec (serde model, unknown keys are errors) -> merged spec per message (the
//! union of the sources' versions, checked equal where they overlap; see `merge`) -> resolved
//! model (version ranges, flexible versions, tagged fields, common structs) -> emitted Rust,
//! formatted with rustfmt. `--check` regenerates in memory and fails when the checked-in files
//! differ.

mod emit;
mod merge;
mod model;
mod spec;

use std::collections::BTreeMap;
use std::io::{Read as _, Write as _};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use anyhow::{bail, ensure, Context, Result};

use merge::SpecSource;
use spec::MessageKind;

/// Non-API messages that are generated too: the headers and the consumer-group protocol data.
const EXTRA_MESSAGES: &[&str] = &[
    "RequestHeader",
    "ResponseHeader",
    "ConsumerProtocolSubscription",
    "ConsumerProtocolAssignment",
];

/// The spec directory, relative to the workspace root.
const SPEC_DIR: &str = "../shared/kafka-protocol/messages";

/// The Kafka release whose `kafka-clients` jar supplies the newest specs. Pinned, so that
/// `codegen --check` gives the same answer on every machine; raise it (and regenerate) to take
/// a newer release's APIs and versions.
pub(crate) const KAFKA_CLIENTS_VERSION: &str = "4.4.0";

pub(crate) fn run(args: &[String]) -> Result<()> {
    let root = crate::workspace_root();
    let mut check = false;
    let mut specs: Vec<PathBuf> = Vec::new();
    let mut out_dir = root.join("kafkaex-protocol/src/generated");
    let mut it = args.iter();
    while let Some(a) = it.next() {
        match a.as_str() {
            "--check" => check = true,
            "--specs" => specs.push(PathBuf::from(it.next().context("--specs needs a path")?)),
            "--out" => out_dir = PathBuf::from(it.next().context("--out needs a path")?),
            other => bail!("unknown codegen argument {other:?}"),
        }
    }
    let sources = if specs.is_empty() {
        default_sources(&root)?
    } else {
        specs
            .iter()
            .map(|p| read_source(&root, p))
            .collect::<Result<Vec<_>>>()?
    };
    let files = generate(&sources)?;
    if check {
        check_files(&out_dir, &files)
    } else {
        write_files(&out_dir, &files)
    }
}

/// The default sources: the spec directory, then the pinned kafka-clients jar.
pub(crate) fn default_sources(root: &Path) -> Result<Vec<SpecSource>> {
    let dir = root.join(SPEC_DIR);
    ensure!(
        dir.is_dir(),
        "Kafka's message specs are not at {}",
        dir.display()
    );
    let jar = resolve_clients_jar(root, KAFKA_CLIENTS_VERSION)?;
    Ok(vec![read_source(root, &dir)?, read_source(root, &jar)?])
}

/// `target/kafka-specs/kafka-clients-<version>.jar`, copied there by Maven (from its local
/// repository, or Maven Central) unless an earlier run did.
pub(crate) fn resolve_clients_jar(root: &Path, version: &str) -> Result<PathBuf> {
    let dir = root.join("target/kafka-specs");
    let jar = dir.join(format!("kafka-clients-{version}.jar"));
    if jar.is_file() {
        return Ok(jar);
    }
    std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
    eprintln!("codegen: resolving org.apache.kafka:kafka-clients:{version} with Maven");
    let output = Command::new("mvn")
        .args([
            "-B",
            "-q",
            "org.apache.maven.plugins:maven-dependency-plugin:3.8.1:copy",
        ])
        .arg(format!(
            "-Dartifact=org.apache.kafka:kafka-clients:{version}:jar"
        ))
        .arg(format!("-DoutputDirectory={}", dir.display()))
        .output()
        .context("running mvn (is Maven installed and on PATH?)")?;
    if !output.status.success() || !jar.is_file() {
        bail!(
            "mvn could not resolve org.apache.kafka:kafka-clients:{version} ({}):\n{}{}",
            output.status,
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        );
    }
    Ok(jar)
}

/// Reads every spec of a directory or a kafka-clients jar, and how to name the source.
fn read_source(root: &Path, path: &Path) -> Result<SpecSource> {
    let files = read_specs(path)?;
    let (label, short) = if path.is_dir() {
        let shown = path
            .strip_prefix(root)
            .unwrap_or(path)
            .display()
            .to_string();
        // The directory's SOURCE.md (beside it) names the apache/kafka commit it was taken from.
        let commit = std::fs::read_to_string(path.with_file_name("SOURCE.md"))
            .ok()
            .and_then(|t| find_commit(&t));
        match commit {
            Some(c) => (
                format!("{shown} (apache/kafka at commit {c})"),
                format!("the specs of apache/kafka {}", &c[..7]),
            ),
            None => (shown.clone(), shown),
        }
    } else {
        let props = read_jar_entry(path, "kafka/kafka-version.properties")?;
        let prop = |key: &str| {
            props
                .lines()
                .find_map(|l| l.strip_prefix(key)?.strip_prefix('='))
                .map(str::trim)
                .unwrap_or("unknown")
                .to_string()
        };
        let (version, commit) = (prop("version"), prop("commitId"));
        (
            format!("org.apache.kafka:kafka-clients:{version} (common/message/*.json; Kafka commit {commit})"),
            format!("kafka-clients {version}"),
        )
    };
    let mut specs = Vec::new();
    for (name, text) in &files {
        specs.push((name.clone(), spec::parse(name, text)?));
    }
    Ok(SpecSource {
        label,
        short,
        specs,
    })
}

/// The first 40-hex-digit word after the word "commit".
fn find_commit(text: &str) -> Option<String> {
    let mut words = text.split(|c: char| !c.is_ascii_alphanumeric());
    while let Some(w) = words.next() {
        if w == "commit" {
            let next = words.find(|w| !w.is_empty())?;
            if next.len() == 40 && next.chars().all(|c| c.is_ascii_hexdigit()) {
                return Some(next.to_string());
            }
        }
    }
    None
}

fn read_jar_entry(path: &Path, entry: &str) -> Result<String> {
    let file = std::fs::File::open(path).with_context(|| format!("opening {}", path.display()))?;
    let mut zip =
        zip::ZipArchive::new(file).with_context(|| format!("{} is not a jar", path.display()))?;
    let mut text = String::new();
    zip.by_name(entry)
        .with_context(|| format!("{} has no {entry}", path.display()))?
        .read_to_string(&mut text)?;
    Ok(text)
}

/// Reads `(file name, text)` of every spec, from a directory or a kafka-clients jar.
fn read_specs(path: &Path) -> Result<Vec<(String, String)>> {
    let mut out = Vec::new();
    if path.is_dir() {
        for entry in
            std::fs::read_dir(path).with_context(|| format!("reading {}", path.display()))?
        {
            let p = entry?.path();
            if p.extension().is_some_and(|e| e == "json") {
                let name = p
                    .file_name()
                    .unwrap_or_default()
                    .to_string_lossy()
                    .into_owned();
                out.push((
                    name,
                    std::fs::read_to_string(&p)
                        .with_context(|| format!("reading {}", p.display()))?,
                ));
            }
        }
    } else {
        let file =
            std::fs::File::open(path).with_context(|| format!("opening {}", path.display()))?;
        let mut zip = zip::ZipArchive::new(file)
            .with_context(|| format!("{} is not a jar", path.display()))?;
        for i in 0..zip.len() {
            let mut entry = zip.by_index(i)?;
            let name = entry.name().to_string();
            if let Some(file_name) = name.strip_prefix("common/message/") {
                if file_name.ends_with(".json") && !file_name.contains('/') {
                    let mut text = String::new();
                    entry.read_to_string(&mut text)?;
                    out.push((file_name.to_string(), text));
                }
            }
        }
    }
    ensure!(
        !out.is_empty(),
        "no *.json specs found in {}",
        path.display()
    );
    out.sort();
    Ok(out)
}

/// Generates every file, formatted, keyed by its path relative to the output directory.
pub(crate) fn generate(sources: &[SpecSource]) -> Result<BTreeMap<String, String>> {
    let wanted = |s: &spec::MessageSpec| {
        s.api_key.is_some() && matches!(s.kind, MessageKind::Request | MessageKind::Response)
            || EXTRA_MESSAGES.contains(&s.name.as_str())
    };
    let mut messages = Vec::new();
    // Kafka 4 keeps stubs of removed APIs with `"validVersions": "none"`; a message no source
    // gives a version of has nothing to generate.
    for merged in merge::merge_all(sources)?
        .into_iter()
        .filter(|m| wanted(&m.spec) && !m.origins.is_empty())
    {
        let mut m = model::resolve(&merged.spec)?;
        let (provenance, origin_doc) = provenance(sources, &merged);
        m.provenance = provenance;
        m.origin_doc = origin_doc;
        m.aliases = merged.aliases.into_iter().map(|(_, a)| a).collect();
        messages.push(m);
    }
    messages.sort_by(|a, b| a.module.cmp(&b.module));
    let requests = messages
        .iter()
        .filter(|m| m.kind == MessageKind::Request)
        .count();
    let responses = messages
        .iter()
        .filter(|m| m.kind == MessageKind::Response)
        .count();
    ensure!(
        requests == responses,
        "{requests} requests but {responses} responses"
    );
    for m in messages.iter().filter(|m| m.kind == MessageKind::Request) {
        let resp = format!("{}Response", m.api_name());
        let r = messages
            .iter()
            .find(|r| r.name == resp)
            .with_context(|| format!("{} has no {resp}", m.name))?;
        ensure!(
            r.valid == m.valid,
            "{} and {resp} have different valid versions",
            m.name
        );
        ensure!(
            r.api_key == m.api_key,
            "{} and {resp} disagree on the API key",
            m.name
        );
    }
    for extra in EXTRA_MESSAGES {
        ensure!(
            messages.iter().any(|m| m.name == *extra),
            "spec {extra} is missing"
        );
    }

    let mut files = BTreeMap::new();
    for m in &messages {
        files.insert(format!("{}.rs", m.module), emit::message_file(m));
    }
    let labels: Vec<String> = sources.iter().map(|s| s.label.clone()).collect();
    files.insert("mod.rs".to_string(), emit::mod_file(&messages, &labels));
    files.insert("testing.rs".to_string(), emit::testing_file());
    for text in files.values_mut() {
        *text = rustfmt(text)?;
    }
    Ok(files)
}

/// The header lines and the doc sentence saying where a message's versions come from.
fn provenance(sources: &[SpecSource], m: &merge::Merged) -> (Vec<String>, String) {
    let vs = |r: model::Range| {
        if r.min == r.max {
            format!("v{}", r.min)
        } else {
            format!("v{}-{}", r.min, r.max)
        }
    };
    let mut used: Vec<usize> = m.origins.iter().map(|o| o.source).collect();
    used.extend(m.checked.iter().flat_map(|c| [c.0, c.1]));
    used.sort_unstable();
    used.dedup();
    let mut lines = vec!["Sources:".to_string()];
    for &i in &used {
        lines.push(format!("  [{}] {}", i + 1, sources[i].label));
    }
    let parts: Vec<String> = m
        .origins
        .iter()
        .map(|o| format!("{} from [{}] {}", vs(o.versions), o.source + 1, o.file))
        .collect();
    lines.push(format!("{}: {}.", m.spec.name, parts.join(", ")));
    for (a, b, r) in &m.checked {
        lines.push(format!(
            "[{}] declares {} too: checked to agree with [{}] field by field.",
            a + 1,
            vs(*r),
            b + 1
        ));
    }
    for (src, alias) in &m.aliases {
        lines.push(format!(
            "[{}] calls this API key's message {alias}; its versions have the same shape.",
            src + 1
        ));
    }
    for n in &m.notes {
        lines.push(format!("Note: {n}."));
    }
    let doc: Vec<String> = m
        .origins
        .iter()
        .map(|o| format!("{} from {}", vs(o.versions), sources[o.source].short))
        .collect();
    (lines, doc.join(", "))
}

fn rustfmt(src: &str) -> Result<String> {
    let mut child = Command::new("rustfmt")
        .args(["--edition", "2021"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .context("running rustfmt (rustup component add rustfmt)")?;
    let mut stdin = child.stdin.take().context("rustfmt stdin")?;
    let input = src.to_string();
    let writer = std::thread::spawn(move || stdin.write_all(input.as_bytes()));
    let output = child.wait_with_output()?;
    writer
        .join()
        .map_err(|_| anyhow::anyhow!("rustfmt writer panicked"))??;
    if !output.status.success() {
        let mut dump = std::env::temp_dir();
        dump.push("kafkaex-codegen-rustfmt-input.rs");
        std::fs::write(&dump, src)?;
        bail!(
            "rustfmt failed (input saved to {}):\n{}",
            dump.display(),
            String::from_utf8_lossy(&output.stderr)
        );
    }
    Ok(String::from_utf8(output.stdout)?)
}

fn existing_rs_files(dir: &Path) -> Result<Vec<String>> {
    let mut out = Vec::new();
    if dir.is_dir() {
        for entry in std::fs::read_dir(dir)? {
            let p = entry?.path();
            if p.extension().is_some_and(|e| e == "rs") {
                out.push(
                    p.file_name()
                        .unwrap_or_default()
                        .to_string_lossy()
                        .into_owned(),
                );
            }
        }
    }
    Ok(out)
}

fn write_files(dir: &Path, files: &BTreeMap<String, String>) -> Result<()> {
    std::fs::create_dir_all(dir)?;
    let mut written = 0;
    for (name, text) in files {
        let path = dir.join(name);
        if std::fs::read_to_string(&path).ok().as_deref() != Some(text.as_str()) {
            std::fs::write(&path, text).with_context(|| format!("writing {}", path.display()))?;
            written += 1;
        }
    }
    for stale in existing_rs_files(dir)? {
        if !files.contains_key(&stale) {
            std::fs::remove_file(dir.join(&stale))?;
            eprintln!("removed {stale}");
        }
    }
    let lines: usize = files.values().map(|t| t.lines().count()).sum();
    eprintln!(
        "codegen: {} files ({lines} lines) in {}, {written} changed",
        files.len(),
        dir.display()
    );
    Ok(())
}

fn check_files(dir: &Path, files: &BTreeMap<String, String>) -> Result<()> {
    let mut stale = Vec::new();
    for (name, text) in files {
        if std::fs::read_to_string(dir.join(name)).ok().as_deref() != Some(text.as_str()) {
            stale.push(name.clone());
        }
    }
    for extra in existing_rs_files(dir)? {
        if !files.contains_key(&extra) {
            stale.push(format!("{extra} (not generated)"));
        }
    }
    if !stale.is_empty() {
        bail!(
            "generated code in {} is stale; run `cargo xtask codegen`. Stale files:\n  {}",
            dir.display(),
            stale.join("\n  ")
        );
    }
    eprintln!("codegen: {} files up to date", files.len());
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The checked-in generated code is what the specs give. Without the specs (or Maven to
    /// resolve the jar) the test skips, loudly, through the same channel as the broker tests.
    #[test]
    fn codegen_is_fresh() {
        let root = crate::workspace_root();
        let sources = match default_sources(&root) {
            Ok(s) => s,
            Err(e) => {
                let line = format!("SKIPPED codegen_is_fresh: no specs to generate from ({e:#})\n");
                let _ = std::io::stderr().write_all(line.as_bytes());
                if let Ok(path) = std::env::var("KAFKAEX_SKIP_LOG") {
                    if let Ok(mut f) = std::fs::OpenOptions::new()
                        .create(true)
                        .append(true)
                        .open(path)
                    {
                        let _ = f.write_all(line.as_bytes());
                    }
                }
                return;
            }
        };
        let files = generate(&sources).expect("the specs generate");
        check_files(&root.join("kafkaex-protocol/src/generated"), &files)
            .expect("run `cargo xtask codegen`");
    }

    /// Every error a spec's comments list for its responses (`// - UNKNOWN_TOPIC_ID (version
    /// 10+)`), in the new 4.x APIs too, is in kafkaex-protocol's `ErrorCode` table, which
    /// `tests/error_code.rs` holds to kafka-clients 4.4.0's `Errors` through this fixture.
    #[test]
    fn errors_the_specs_name_are_in_the_error_code_table() {
        let root = crate::workspace_root();
        let table = std::fs::read_to_string(
            root.join("kafkaex-protocol/tests/fixtures/errors-kafka-4.4.0.tsv"),
        )
        .expect("the error fixture");
        let known: Vec<&str> = table.lines().filter_map(|l| l.split('\t').nth(1)).collect();
        // Names the 3.9-era specs use for errors renamed before they were released: the
        // ConsumerGroupHeartbeat v1 comment's INVALID_SUBSCRIPTION_REGEX shipped as
        // INVALID_REGULAR_EXPRESSION (code 128), as Kafka 4's spec says.
        const RENAMED: &[(&str, &str)] =
            &[("INVALID_SUBSCRIPTION_REGEX", "INVALID_REGULAR_EXPRESSION")];
        let mut paths = vec![root.join(SPEC_DIR)];
        if let Ok(jar) = resolve_clients_jar(&root, KAFKA_CLIENTS_VERSION) {
            paths.push(jar);
        }
        let mut missing = Vec::new();
        let mut named = 0;
        for path in paths.iter().filter(|p| p.exists()) {
            for (file, text) in read_specs(path).expect("specs read") {
                for line in text.lines() {
                    let Some(rest) = line.trim_start().strip_prefix("// - ") else {
                        continue;
                    };
                    let name: String = rest
                        .chars()
                        .take_while(|c| c.is_ascii_uppercase() || c.is_ascii_digit() || *c == '_')
                        .collect();
                    if name.len() > 2 && name.contains('_') {
                        named += 1;
                        let name = RENAMED
                            .iter()
                            .find(|(old, _)| *old == name)
                            .map_or(name.clone(), |(_, new)| new.to_string());
                        if !known.contains(&name.as_str()) {
                            missing.push(format!("{name} ({file})"));
                        }
                    }
                }
            }
        }
        assert!(named > 0, "no error lists found in the specs");
        assert!(missing.is_empty(), "not in ErrorCode: {missing:?}");
    }

    #[test]
    fn commit_is_read_from_source_md() {
        let text = "from the apache/kafka repository at commit 1eb7644349cb07139d6a3c1ad1986979647cac99 (trunk";
        assert_eq!(
            find_commit(text).as_deref(),
            Some("1eb7644349cb07139d6a3c1ad1986979647cac99")
        );
        assert_eq!(find_commit("no commit here"), None);
    }
}
