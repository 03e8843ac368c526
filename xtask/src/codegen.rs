//! `cargo xtask codegen [--check] [--specs DIR|JAR] [--out DIR]`: generates
//! `kafkaex-protocol/src/generated/` from Kafka's JSON message specs.
//!
//! The pipeline is spec (serde model, unknown keys are errors) -> resolved model (version ranges,
//! flexible versions, tagged fields, common structs) -> emitted Rust, formatted with rustfmt.
//! `--check` regenerates in memory and fails when the checked-in files differ.

mod emit;
mod model;
mod spec;

use std::collections::BTreeMap;
use std::io::{Read as _, Write as _};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use anyhow::{bail, ensure, Context, Result};

use spec::{MessageKind, MessageSpec};

/// Non-API messages that are generated too: the headers and the consumer-group protocol data.
const EXTRA_MESSAGES: &[&str] = &[
    "RequestHeader",
    "ResponseHeader",
    "ConsumerProtocolSubscription",
    "ConsumerProtocolAssignment",
];

pub(crate) fn run(args: &[String]) -> Result<()> {
    let root = crate::workspace_root();
    let mut check = false;
    let mut specs = root.join("../shared/kafka-protocol/messages");
    let mut out_dir = root.join("kafkaex-protocol/src/generated");
    let mut it = args.iter();
    while let Some(a) = it.next() {
        match a.as_str() {
            "--check" => check = true,
            "--specs" => specs = PathBuf::from(it.next().context("--specs needs a path")?),
            "--out" => out_dir = PathBuf::from(it.next().context("--out needs a path")?),
            other => bail!("unknown codegen argument {other:?}"),
        }
    }
    let sources = read_specs(&specs)?;
    let files = generate(&sources)?;
    if check {
        check_files(&out_dir, &files)
    } else {
        write_files(&out_dir, &files)
    }
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
fn generate(sources: &[(String, String)]) -> Result<BTreeMap<String, String>> {
    // Parse everything, so an unknown key anywhere is an error, then keep what we generate.
    let mut specs: Vec<MessageSpec> = Vec::new();
    for (name, text) in sources {
        specs.push(spec::parse(name, text)?);
    }
    let wanted = |s: &MessageSpec| {
        s.api_key.is_some() && matches!(s.kind, MessageKind::Request | MessageKind::Response)
            || EXTRA_MESSAGES.contains(&s.name.as_str())
    };
    let mut messages = Vec::new();
    // Kafka 4 keeps stubs of removed APIs with `"validVersions": "none"`; they have nothing to
    // generate.
    for s in specs
        .iter()
        .filter(|s| wanted(s) && s.valid_versions.trim() != "none")
    {
        messages.push(model::resolve(s)?);
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
    files.insert("mod.rs".to_string(), emit::mod_file(&messages));
    files.insert("testing.rs".to_string(), emit::testing_file());
    for text in files.values_mut() {
        *text = rustfmt(text)?;
    }
    Ok(files)
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
