//! `cargo xtask bench-instructions [--features crc-fast] [CODEC...]`: instruction counts of the
//! record batch benchmarks under valgrind's callgrind, beside criterion's times.
//!
//! Why: criterion medians on the shared two-core machines move by 25% and more between runs,
//! which swamps the ratios the goals are stated in; an instruction count does not depend on the
//! load. It is not a time (a cache miss or a stall costs nothing here, a wide SIMD instruction
//! as much as a narrow one), so it complements criterion rather than replacing it.
//!
//! How: `benches/src/bin/instructions.rs` runs one function on the benchmarks' own inputs N and
//! 2N times; callgrind counts every instruction of each run, and (2N - N) / N is the count of
//! one iteration, with setup, input checks and warm-up cancelled out. Valgrind's CPU hides
//! AVX-512 from the program, so the CRC runs its AVX2/SSE4.2 path.

use std::path::Path;
use std::process::Command;

use anyhow::{bail, ensure, Context, Result};

use crate::workspace_root;

/// Record counts and codecs measured by default: all of criterion's uncompressed cases and the
/// 1000-record batch of each codec.
const CASES: &[(&str, usize)] = &[
    ("none", 1),
    ("none", 100),
    ("none", 1000),
    ("gzip", 1000),
    ("snappy", 1000),
    ("lz4", 1000),
    ("zstd", 1000),
];

pub(crate) fn run(args: &[String]) -> Result<()> {
    let root = workspace_root();
    let mut features = Vec::new();
    let mut codecs: Vec<String> = Vec::new();
    let mut it = args.iter();
    while let Some(a) = it.next() {
        match a.as_str() {
            "--features" => features.push(it.next().context("--features needs a value")?.clone()),
            c if !c.starts_with('-') => codecs.push(c.to_string()),
            other => bail!("unknown bench-instructions argument {other:?}"),
        }
    }
    ensure!(
        Command::new("valgrind")
            .arg("--version")
            .output()
            .is_ok_and(|o| o.status.success()),
        "valgrind is not installed (apt-get install valgrind)"
    );
    let mut build = Command::new("cargo");
    build
        .args([
            "build",
            "--profile",
            "bench",
            "-p",
            "kafkaex-benches",
            "--bin",
            "instructions",
        ])
        .current_dir(&root);
    for f in &features {
        build.args(["--features", f]);
    }
    ensure!(
        build.status()?.success(),
        "building the instructions binary failed"
    );
    let bin = target_dir(&root).join("release/instructions");
    let out = target_dir(&root).join("callgrind");
    std::fs::create_dir_all(&out)?;

    println!(
        "| case | kafkaex | kafka-protocol | floor | kafkaex-view | kafka-protocol / kafkaex | kafkaex / floor | kafka-protocol / view |"
    );
    println!("|---|---|---|---|---|---|---|---|");
    for &(codec, records) in CASES {
        if !codecs.is_empty() && !codecs.iter().any(|c| c == codec) {
            continue;
        }
        for direction in ["encode", "decode"] {
            let count = |implementation: &str| -> Result<f64> {
                // Enough iterations that one iteration's count is exact to well under 0.1%.
                let n = (20_000 / records).clamp(10, 2000);
                let a = instructions(&bin, &out, direction, codec, records, implementation, n)?;
                let b = instructions(&bin, &out, direction, codec, records, implementation, 2 * n)?;
                Ok(b.saturating_sub(a) as f64 / n as f64)
            };
            let ours = count("kafkaex")?;
            let theirs = count("kafka-protocol")?;
            let floor = count("floor")?;
            let view = if direction == "decode" {
                Some(count("kafkaex-view")?)
            } else {
                None
            };
            println!(
                "| `{direction}/{codec}/{records}` | {} | {} | {} | {} | **{:.2}x** | **{:.2}x** | {} |",
                fmt(ours),
                fmt(theirs),
                fmt(floor),
                view.map_or("—".into(), fmt),
                theirs / ours,
                ours / floor,
                view.map_or("—".into(), |v| format!("{:.2}x", theirs / v)),
            );
        }
    }
    Ok(())
}

/// The target directory cargo builds into.
fn target_dir(root: &Path) -> std::path::PathBuf {
    std::env::var_os("CARGO_TARGET_DIR")
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|| root.join("target"))
}

/// `1.23 M`, `456.7 k`, `890`.
fn fmt(n: f64) -> String {
    if n >= 1e6 {
        format!("{:.2} M", n / 1e6)
    } else if n >= 1e4 {
        format!("{:.1} k", n / 1e3)
    } else {
        format!("{n:.0}")
    }
}

/// Instructions callgrind counts for one run of the binary.
fn instructions(
    bin: &Path,
    out: &Path,
    direction: &str,
    codec: &str,
    records: usize,
    implementation: &str,
    iterations: usize,
) -> Result<u64> {
    let file = out.join(format!(
        "{direction}-{codec}-{records}-{implementation}-{iterations}.out"
    ));
    let output = Command::new("valgrind")
        .arg("--tool=callgrind")
        .arg(format!("--callgrind-out-file={}", file.display()))
        .arg(bin)
        .args([direction, codec, &records.to_string(), implementation])
        .arg(iterations.to_string())
        .output()
        .context("running valgrind")?;
    ensure!(
        output.status.success(),
        "{direction} {codec} {records} {implementation} failed under callgrind:\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let text = std::fs::read_to_string(&file)?;
    text.lines()
        .find_map(|l| l.strip_prefix("summary: "))
        .context("no summary line in the callgrind output")?
        .trim()
        .parse()
        .context("reading the instruction count")
}
