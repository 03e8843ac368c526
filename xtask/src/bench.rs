//! `cargo xtask bench e2e`: the end-to-end client benchmark against one local broker.
//!
//! In one run, on the same broker, for each configuration (acks=1 and acks=all with idempotence,
//! times compression none and lz4; linger and batch bytes equal for all), every producer arm
//! writes N records of S bytes to a fresh topic of its own, then every consumer arm reads every
//! such topic back. Each arm is a child process; the harness takes throughput and latency from
//! the arm's own report and CPU time and peak RSS from the kernel's accounting of the child
//! (`wait4`), checks that every record arrived (count, and the contract's checksum where the
//! values are known), and writes tables with every number as a ratio to librdkafka's in the
//! same run to `benches/E2E_RESULTS.md`. See `benches/README.md` for the arm contract; arms are
//! listed in [`arms::ARMS`].

mod arms;
mod child;
mod parse;
mod payload;
mod report;

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use anyhow::{bail, ensure, Context, Result};

use self::arms::{Arm, Prepared, BASELINE};
use self::report::{Phase, Row, Stats};
use crate::workspace_root;

const USAGE: &str = "usage: cargo xtask bench e2e [options]\n\
  --records N           records per run (default 2000000)\n\
  --record-size S       value bytes (default 100)\n\
  --partitions P        partitions of each fresh topic (default 3)\n\
  --arms a,b            arms to run (default all: librdkafka, franz-go, java)\n\
  --acks 1,all          acks settings (default both; acks=all runs idempotent)\n\
  --compression c,d     none and/or lz4 (default both)\n\
  --linger-ms L         producer linger (default 5)\n\
  --batch-bytes B       producer batch bytes (default 1000000)\n\
  --bootstrap H:P       broker (default 127.0.0.1:19092, the kraft profile)\n\
  --repeat R            run everything R times, report medians (default 1)\n\
  --skip-build          use the arms as built, build nothing\n\
  --out PATH            results file (default benches/E2E_RESULTS.md)\n\
  --no-write            print the results only\n\
  --note TEXT           add a line to the results' notes";

/// Entry point of `cargo xtask bench ...`.
pub(crate) fn run(args: &[String]) -> Result<()> {
    match args.first().map(String::as_str) {
        Some("e2e") => e2e(&args[1..]),
        Some("help" | "--help" | "-h") => {
            eprintln!("{USAGE}");
            Ok(())
        }
        other => {
            eprintln!("{USAGE}");
            bail!("unknown bench {other:?} (the criterion benches run with `cargo bench -p kafkaex-benches`)")
        }
    }
}

/// The harness's options.
#[derive(Debug, Clone)]
pub(crate) struct Opts {
    pub(crate) bootstrap: String,
    pub(crate) records: u64,
    pub(crate) record_size: usize,
    pub(crate) partitions: u32,
    pub(crate) linger_ms: u32,
    pub(crate) batch_bytes: u64,
    arms: Option<String>,
    skip_build: bool,
    repeat: usize,
    acks: Vec<&'static str>,
    compression: Vec<&'static str>,
    out: Option<PathBuf>,
    note: Option<String>,
}

impl Opts {
    fn parse(args: &[String]) -> Result<Self> {
        let mut o = Opts {
            bootstrap: "127.0.0.1:19092".into(),
            records: 2_000_000,
            record_size: 100,
            partitions: 3,
            linger_ms: 5,
            batch_bytes: 1_000_000,
            arms: None,
            skip_build: false,
            repeat: 1,
            acks: vec!["1", "all"],
            compression: vec!["none", "lz4"],
            out: Some(workspace_root().join("benches/E2E_RESULTS.md")),
            note: None,
        };
        let mut it = args.iter();
        while let Some(flag) = it.next() {
            let mut value = || {
                it.next()
                    .cloned()
                    .with_context(|| format!("{flag} needs a value"))
            };
            match flag.as_str() {
                "--records" => o.records = number(flag, &value()?)?,
                "--record-size" => o.record_size = number(flag, &value()?)?,
                "--partitions" => o.partitions = number(flag, &value()?)?,
                "--linger-ms" => o.linger_ms = number(flag, &value()?)?,
                "--batch-bytes" => o.batch_bytes = number(flag, &value()?)?,
                "--bootstrap" => o.bootstrap = value()?,
                "--arms" => o.arms = Some(value()?),
                "--acks" => o.acks = pick(flag, &value()?, &["1", "all"])?,
                "--compression" => o.compression = pick(flag, &value()?, &["none", "lz4"])?,
                "--out" => o.out = Some(PathBuf::from(value()?)),
                "--no-write" => o.out = None,
                "--note" => o.note = Some(value()?),
                "--repeat" => o.repeat = number(flag, &value()?)?,
                "--skip-build" => o.skip_build = true,
                "help" | "--help" | "-h" => {
                    eprintln!("{USAGE}");
                    bail!("help printed");
                }
                other => {
                    eprintln!("{USAGE}");
                    bail!("unknown option {other:?}");
                }
            }
        }
        ensure!(o.records > 0, "--records must be positive");
        ensure!(o.record_size > 0, "--record-size must be positive");
        ensure!(o.partitions > 0, "--partitions must be positive");
        ensure!(o.repeat > 0, "--repeat must be positive");
        Ok(o)
    }

    /// The configurations, in run order.
    fn configs(&self) -> Vec<Config> {
        let mut out = Vec::new();
        for acks in &self.acks {
            for compression in &self.compression {
                out.push(Config {
                    acks,
                    // Idempotence needs acks=all in every client; with acks=1 it is off.
                    idempotent: *acks == "all",
                    compression,
                });
            }
        }
        out
    }

    /// Longest a single arm run may take before it is killed.
    fn timeout(&self) -> Duration {
        Duration::from_secs(60 + self.records / 10_000)
    }

    #[cfg(test)]
    pub(crate) fn for_tests() -> Self {
        let mut o = Opts::parse(&["--records".to_string(), "1000".to_string()]).unwrap();
        o.out = None;
        o
    }
}

fn number<T: std::str::FromStr>(flag: &str, v: &str) -> Result<T> {
    v.parse()
        .ok()
        .with_context(|| format!("{flag} {v:?} is not a number"))
}

/// A comma-separated subset of `allowed`, in the order given.
fn pick(flag: &str, v: &str, allowed: &[&'static str]) -> Result<Vec<&'static str>> {
    let mut out = Vec::new();
    for part in v.split(',').map(str::trim).filter(|p| !p.is_empty()) {
        let known = allowed
            .iter()
            .find(|a| **a == part)
            .with_context(|| format!("{flag}: {part:?} is not one of {allowed:?}"))?;
        out.push(*known);
    }
    ensure!(!out.is_empty(), "{flag} needs at least one value");
    Ok(out)
}

/// One producer configuration; the rest (linger, batch bytes, record size) is in [`Opts`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Config {
    pub(crate) acks: &'static str,
    pub(crate) idempotent: bool,
    pub(crate) compression: &'static str,
}

impl Config {
    fn label(&self) -> String {
        format!(
            "acks={}{} {}",
            self.acks,
            if self.idempotent { " idem" } else { "" },
            self.compression
        )
    }

    /// For topic names.
    fn slug(&self) -> String {
        format!("acks{}-{}", self.acks, self.compression)
    }
}

/// Everything a run needs besides the arms.
struct Ctx {
    opts: Opts,
    run_id: String,
    out_dir: PathBuf,
    lib: PathBuf,
    /// The checksum of records `0..N` of the contract's values.
    expected: String,
}

fn e2e(args: &[String]) -> Result<()> {
    let opts = Opts::parse(args)?;
    let root = workspace_root();
    let started = Instant::now();
    let run_id = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default()
        .as_secs()
        .to_string();
    let out_dir = root.join("target/bench-e2e").join(format!("run-{run_id}"));
    std::fs::create_dir_all(&out_dir)?;
    let date = command_line("date", &["-u", "+%Y-%m-%d %H:%M UTC"]);
    // Taken now: the code that runs is the code as it was at the start.
    let commit = git_commit(&root);
    let load_before = load_average();

    if let Err(e) = crate::kafka::api_versions(&opts.bootstrap, Duration::from_secs(5)) {
        bail!(
            "no broker answers at {} ({e:#}); start one with `cargo xtask kafka up kraft`",
            opts.bootstrap
        );
    }
    let version = crate::kafka::kraft_version();
    // The Java arm and the topic tool both run from the broker distribution's jars.
    let lib = crate::kafka::dist_lib(&root, &version)?;

    let mut ready = Vec::new();
    let mut skipped = Vec::new();
    let mut build_times = Vec::new();
    for spec in arms::select(opts.arms.as_deref())? {
        match arms::prepare(&root, spec, opts.skip_build, &lib) {
            Prepared::Ready(arm, took) => {
                eprintln!("xtask bench: arm {} ready ({:.1?})", arm.name(), took);
                build_times.push((arm.name(), took));
                ready.push(arm);
            }
            Prepared::Skipped(spec, why) => {
                eprintln!("xtask bench: arm {} SKIPPED: {why}", spec.name);
                skipped.push((spec, why));
            }
        }
    }
    ensure!(!ready.is_empty(), "no arm could be built or found");
    if !ready.iter().any(|a| a.name() == BASELINE) {
        eprintln!("xtask bench: WARNING: the baseline arm {BASELINE} is not running: no ratios");
    }

    let t = Instant::now();
    let expected = payload::expected_checksum(opts.records, opts.record_size);
    eprintln!(
        "xtask bench: expected checksum of {} records: {expected} ({:.1?})",
        opts.records,
        t.elapsed()
    );
    let ctx = Ctx {
        opts,
        run_id,
        out_dir,
        lib,
        expected,
    };

    let mut rows = Vec::new();
    let mut aborted = None;
    // Repetitions go round all the configurations in turn, so that a slow spell of the shared
    // machine hits one repetition of many cells rather than every repetition of one.
    let configs = ctx.opts.configs();
    'runs: for rep in 0..ctx.opts.repeat {
        for (i, config) in configs.iter().enumerate() {
            match run_config_with_retry(&ctx, &ready, *config, i + rep, rep) {
                Ok(r) => rows.extend(r),
                Err(e) => {
                    eprintln!("xtask bench: stopping: {e:#}");
                    aborted = Some(format!("{e:#}"));
                    break 'runs;
                }
            }
        }
    }
    let rows = report::aggregate(rows);

    let meta = Meta {
        date,
        commit,
        command: format!("cargo xtask bench e2e {}", args.join(" "))
            .trim()
            .to_string(),
        took: started.elapsed(),
        version,
        load: (load_before, load_average()),
        build_times,
        skipped: skipped
            .into_iter()
            .map(|(s, why)| (s.name, s.what, why))
            .collect(),
        arms: ready.iter().map(|a| (a.name(), a.spec.what)).collect(),
    };
    let mut text = render(&ctx, &meta, &rows);
    if let Some(why) = &aborted {
        // What was measured is kept, but never over a complete results file.
        text.push_str(&format!("- **The run was cut short**: {why}\n"));
        let partial = ctx.out_dir.join("E2E_RESULTS.partial.md");
        std::fs::write(&partial, &text)?;
        println!("{text}");
        bail!(
            "the run was cut short ({why}); what it measured is in {}",
            partial.display()
        );
    }
    println!("{text}");
    if let Some(out) = &ctx.opts.out {
        std::fs::write(out, &text).with_context(|| format!("writing {}", out.display()))?;
        eprintln!("xtask bench: results written to {}", out.display());
    }
    eprintln!(
        "xtask bench: logs of every run in {}",
        ctx.out_dir.display()
    );
    Ok(())
}

/// Runs one configuration; if the broker went away meanwhile, waits for it and runs it once more.
fn run_config_with_retry(
    ctx: &Ctx,
    ready: &[Arm],
    config: Config,
    index: usize,
    rep: usize,
) -> Result<Vec<Row>> {
    match run_config(ctx, ready, config, index, &format!("-r{rep}")) {
        Ok(rows) => Ok(rows),
        Err(e) if e.downcast_ref::<BrokerGone>().is_some() => {
            eprintln!("xtask bench: {e:#}; waiting up to 5 minutes for it to come back");
            let deadline = Instant::now() + Duration::from_secs(300);
            while crate::kafka::api_versions(&ctx.opts.bootstrap, Duration::from_secs(2)).is_err() {
                ensure!(
                    Instant::now() < deadline,
                    "the broker at {} did not come back",
                    ctx.opts.bootstrap
                );
                std::thread::sleep(Duration::from_secs(5));
            }
            eprintln!("xtask bench: broker back; running {} again", config.label());
            run_config(ctx, ready, config, index, &format!("-r{rep}-retry"))
        }
        Err(e) => Err(e),
    }
}

/// The broker stopped answering during a configuration's runs.
#[derive(Debug)]
struct BrokerGone(String);

impl std::fmt::Display for BrokerGone {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "the broker at {} stopped answering", self.0)
    }
}

impl std::error::Error for BrokerGone {}

/// The arms in table order, rotated by the configuration's index so that no arm always runs
/// first (on a cold page cache) or last.
fn rotated(ready: &[Arm], index: usize) -> Vec<&Arm> {
    let mut v: Vec<&Arm> = ready.iter().collect();
    if !v.is_empty() {
        let n = index % v.len();
        v.rotate_left(n);
    }
    v
}

fn run_config(
    ctx: &Ctx,
    ready: &[Arm],
    config: Config,
    index: usize,
    suffix: &str,
) -> Result<Vec<Row>> {
    let opts = &ctx.opts;
    let label = config.label();
    eprintln!("xtask bench: === {label} ===");
    let mut topics = Topics {
        lib: &ctx.lib,
        bootstrap: &opts.bootstrap,
        names: Vec::new(),
        log: ctx.out_dir.join("topics.log"),
    };
    let mut rows = Vec::new();
    // (producer arm, topic, the checksum its values must give if known)
    let mut written: Vec<(&str, String, Option<String>)> = Vec::new();
    for arm in rotated(ready, index) {
        let topic = format!(
            "e2e-bench-{}-{}-{}{suffix}",
            ctx.run_id,
            config.slug(),
            arm.name()
        );
        let outcome = match topics.create(&topic, opts.partitions) {
            Err(e) => Err(format!("creating topic {topic}: {e:#}")),
            Ok(()) => {
                let cmd = arm.produce_command(opts, &config, &topic);
                measure(
                    ctx,
                    arm,
                    cmd,
                    true,
                    &format!("{label} | {} produce", arm.name()),
                )
            }
        };
        let outcome = outcome.and_then(|(stats, report)| {
            if report.records != opts.records || report.errors != 0 {
                return Err(format!(
                    "{} of {} records acknowledged, {} errors",
                    report.records, opts.records, report.errors
                ));
            }
            // Neither lost nor duplicated (a retried batch without idempotence could be both).
            match topics.records_in(&topic) {
                Ok(n) if n == opts.records => Ok((stats, report)),
                Ok(n) => Err(format!(
                    "the topic holds {n} records, {} were produced",
                    opts.records
                )),
                Err(e) => Err(format!("counting the topic's records: {e:#}")),
            }
        });
        if outcome.is_err() {
            broker_check(ctx)?;
        }
        let (outcome, notes) = split(outcome);
        if outcome.is_ok() {
            let expected = arm.writes_contract_values().then(|| ctx.expected.clone());
            written.push((arm.name(), topic, expected));
        }
        rows.push(Row {
            arm: arm.name().to_string(),
            phase: Phase::Produce,
            config: label.clone(),
            source: None,
            outcome,
            notes,
            log_bytes: None,
            spread: None,
        });
    }
    // Table order for the topics, so the consume tables read like the produce one.
    written.sort_by_key(|(src, _, _)| ready.iter().position(|a| a.name() == *src));

    for (src, topic, expected) in &written {
        let mut checksums: Vec<(usize, String)> = Vec::new();
        for arm in rotated(ready, index) {
            let group = format!("{topic}-{}", arm.name());
            let cmd = arm.consume_command(opts, topic, &group);
            let what = format!("{label} | {} consume ({src}'s topic)", arm.name());
            let outcome = measure(ctx, arm, cmd, false, &what).and_then(|(stats, report)| {
                if report.records != opts.records {
                    return Err(format!(
                        "read {} of {} records",
                        report.records, opts.records
                    ));
                }
                if arm.reports_checksum() {
                    let got = report.checksum.clone().unwrap_or_default();
                    if let Some(want) = expected {
                        if &got != want {
                            return Err(format!("checksum {got}, expected {want}"));
                        }
                    }
                }
                Ok((stats, report))
            });
            if outcome.is_err() {
                broker_check(ctx)?;
            }
            if let Ok((_, report)) = &outcome {
                if let Some(c) = &report.checksum {
                    checksums.push((rows.len(), c.clone()));
                }
            }
            let (outcome, mut notes) = split(outcome);
            if outcome.is_ok() {
                notes.push(if arm.reports_checksum() && expected.is_some() {
                    "count and checksum verified".to_string()
                } else if arm.reports_checksum() {
                    "count verified; checksum compared with the other consumers".to_string()
                } else {
                    "count verified (the tool reports no checksum)".to_string()
                });
            }
            rows.push(Row {
                arm: arm.name().to_string(),
                phase: Phase::Consume,
                config: label.clone(),
                source: Some(src.to_string()),
                outcome,
                notes,
                log_bytes: None,
                spread: None,
            });
        }
        // Values the harness cannot predict (Java's random payloads): the consumers must agree.
        let mut distinct: Vec<&str> = checksums.iter().map(|(_, c)| c.as_str()).collect();
        distinct.sort_unstable();
        distinct.dedup();
        if distinct.len() > 1 {
            for (i, c) in &checksums {
                rows[*i].outcome = Err(format!(
                    "checksum {c} disagrees with the other consumers' ({})",
                    distinct.join(", ")
                ));
            }
        }
    }
    match topics.log_sizes() {
        Ok(sizes) => {
            for (topic, bytes) in sizes {
                if let Some((src, _, _)) = written.iter().find(|(_, t, _)| *t == topic) {
                    if let Some(r) = rows
                        .iter_mut()
                        .find(|r| r.phase == Phase::Produce && r.arm == *src)
                    {
                        r.log_bytes = Some(bytes);
                    }
                }
            }
        }
        Err(e) => eprintln!("xtask bench: could not read the topics' sizes: {e:#}"),
    }
    topics.delete_all();
    // Tables list arms in table order, whatever order they ran in.
    let order = |name: &str| ready.iter().position(|a| a.name() == name);
    rows.sort_by_key(|r| {
        (
            r.phase == Phase::Consume,
            r.source.as_deref().map(order),
            order(&r.arm),
        )
    });
    Ok(rows)
}

/// Fails with [`BrokerGone`] if the broker no longer answers (after a failed run).
fn broker_check(ctx: &Ctx) -> Result<()> {
    if crate::kafka::api_versions(&ctx.opts.bootstrap, Duration::from_secs(5)).is_err() {
        return Err(BrokerGone(ctx.opts.bootstrap.clone()).into());
    }
    Ok(())
}

/// Stats or the reason, plus the report's notes.
fn split(
    outcome: std::result::Result<(Stats, parse::Report), String>,
) -> (std::result::Result<Stats, String>, Vec<String>) {
    match outcome {
        Ok((stats, report)) => (Ok(stats), report.notes),
        Err(e) => (Err(e), Vec::new()),
    }
}

/// Runs one arm and turns its report and rusage into table units.
fn measure(
    ctx: &Ctx,
    arm: &Arm,
    mut cmd: Command,
    produce: bool,
    label: &str,
) -> std::result::Result<(Stats, parse::Report), String> {
    let log = ctx.out_dir.join(format!(
        "{}.log",
        label
            .replace([' ', '|', '=', '(', ')', '\''], "_")
            .replace("__", "_")
    ));
    let finished =
        child::run(&mut cmd, label, &log, ctx.opts.timeout()).map_err(|e| format!("{e:#}"))?;
    if finished.timed_out {
        return Err(format!(
            "killed after {:.0?} (timeout); log {}",
            ctx.opts.timeout(),
            log.display()
        ));
    }
    if !finished.status.success() {
        return Err(format!(
            "{}: {}",
            finished.status,
            last_stderr_line(&log).unwrap_or_else(|| format!("see {}", log.display()))
        ));
    }
    let report = arm
        .parse(produce, &finished.stdout, ctx.opts.record_size)
        .map_err(|e| format!("{e:#}"))?;
    let stats = stats_of(&report, finished.cpu, finished.maxrss_kib, finished.wall);
    eprintln!(
        "xtask bench:   {} records/s, {} CPU s/M, {:.1} MiB{}",
        report::thousands(stats.records_per_s),
        format_args!("{:.2}", stats.cpu_s_per_m),
        stats.rss_mib,
        match (stats.p50_us, stats.p99_us) {
            (Some(p50), Some(p99)) => format!(
                ", p50 {} µs, p99 {} µs",
                report::thousands(p50),
                report::thousands(p99)
            ),
            _ => String::new(),
        }
    );
    Ok((stats, report))
}

/// Table units from an arm's report and the kernel's accounting of its process.
fn stats_of(report: &parse::Report, cpu: Duration, maxrss_kib: u64, wall: Duration) -> Stats {
    let millions = report.records as f64 / 1e6;
    Stats {
        records_per_s: report.records as f64 / report.seconds,
        mb_per_s: report.bytes as f64 / 1e6 / report.seconds,
        p50_us: report.p50_us,
        p99_us: report.p99_us,
        cpu_s_per_m: if millions > 0.0 {
            cpu.as_secs_f64() / millions
        } else {
            f64::NAN
        },
        rss_mib: maxrss_kib as f64 / 1024.0,
        wall_s: wall.as_secs_f64(),
    }
}

/// The last line the child wrote to its log before the harness's trailer.
fn last_stderr_line(log: &Path) -> Option<String> {
    let text = std::fs::read_to_string(log).ok()?;
    let body = text.rsplit_once("--- stdout ---")?.0;
    body.lines()
        .rev()
        .map(str::trim)
        .find(|l| !l.is_empty() && !l.starts_with("$ "))
        .map(|l| l.chars().take(300).collect())
}

/// The run's topics, created with Kafka's `TopicCommand` and deleted again (also on error).
struct Topics<'a> {
    lib: &'a Path,
    bootstrap: &'a str,
    names: Vec<String>,
    log: PathBuf,
}

impl Topics<'_> {
    /// Runs a tool class of the distribution against the broker; its stdout.
    fn tool(&self, main: &str, args: &[&str]) -> Result<String> {
        let out = Command::new("java")
            // A short-lived tool: C1 only and a small serial heap start faster.
            .args(["-Xmx256m", "-XX:TieredStopAtLevel=1", "-XX:+UseSerialGC"])
            .arg("-cp")
            .arg(format!("{}/*", self.lib.display()))
            .arg(main)
            .args(["--bootstrap-server", self.bootstrap])
            .args(args)
            .output()
            .context("running java")?;
        let text = format!(
            "$ {main} {}\n{}{}",
            args.join(" "),
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        if let Ok(mut f) = std::fs::File::options()
            .create(true)
            .append(true)
            .open(&self.log)
        {
            use std::io::Write;
            let _ = f.write_all(text.as_bytes());
        }
        ensure!(
            out.status.success(),
            "{main} failed ({}): {}",
            out.status,
            text.trim()
        );
        Ok(String::from_utf8_lossy(&out.stdout).into_owned())
    }

    fn topic_command(&self, args: &[&str]) -> Result<()> {
        self.tool("org.apache.kafka.tools.TopicCommand", args)
            .map(drop)
    }

    /// How many records `topic` holds: the sum of its partitions' end offsets (no transactions,
    /// so no control records), which must be exactly what was produced.
    fn records_in(&self, topic: &str) -> Result<u64> {
        let out = self.tool("org.apache.kafka.tools.GetOffsetShell", &["--topic", topic])?;
        parse::end_offsets(&out, topic)
    }

    fn create(&mut self, name: &str, partitions: u32) -> Result<()> {
        self.topic_command(&[
            "--create",
            "--topic",
            name,
            "--partitions",
            &partitions.to_string(),
            "--replication-factor",
            "1",
        ])?;
        self.names.push(name.to_string());
        Ok(())
    }

    /// The bytes each topic created so far takes on the broker.
    fn log_sizes(&self) -> Result<Vec<(String, u64)>> {
        let list = self.names.join(",");
        let out = self.tool(
            "org.apache.kafka.tools.LogDirsCommand",
            &["--describe", "--topic-list", &list],
        )?;
        parse::log_dir_sizes(&out, &self.names)
    }

    /// Deletes every topic created so far, in one tool run (`--topic` takes a regex there).
    fn delete_all(&mut self) {
        if self.names.is_empty() {
            return;
        }
        let pattern = self.names.join("|");
        if let Err(e) = self.topic_command(&["--delete", "--if-exists", "--topic", &pattern]) {
            eprintln!("xtask bench: could not delete topics {pattern}: {e:#}");
        }
        self.names.clear();
    }
}

impl Drop for Topics<'_> {
    fn drop(&mut self) {
        self.delete_all();
    }
}

/// What the results file says about the run besides the numbers.
struct Meta {
    date: String,
    commit: String,
    command: String,
    took: Duration,
    version: String,
    load: (String, String),
    build_times: Vec<(&'static str, Duration)>,
    skipped: Vec<(&'static str, &'static str, String)>,
    arms: Vec<(&'static str, &'static str)>,
}

fn render(ctx: &Ctx, meta: &Meta, rows: &[Row]) -> String {
    let opts = &ctx.opts;
    let mut out = String::new();
    let w = &mut out;
    let _ = writeln!(w, "# End-to-end client benchmark: results\n");
    let _ = writeln!(
        w,
        "Written by `cargo xtask bench e2e` (`xtask/src/bench.rs`); `benches/README.md` says what is \
         measured and how to add an arm. Every ratio is the arm's number divided by {BASELINE}'s \
         in the same run, configuration and (when consuming) topic: above 1 is better for \
         records/s and MB/s, below 1 is better for latency, CPU, RSS and wall time.\n"
    );
    let _ = writeln!(
        w,
        "- **Date**: {} (the run took {:.1} min)",
        meta.date,
        meta.took.as_secs_f64() / 60.0
    );
    let _ = writeln!(w, "- **Command**: `{}`", meta.command);
    let _ = writeln!(w, "- **Code**: commit {}", meta.commit);
    let _ = writeln!(
        w,
        "- **Broker**: Apache Kafka {} at {}, the `cargo xtask kafka up kraft` profile (one KRaft \
         node as broker and controller, 512 MiB heap, 2 network and 2 I/O threads), on the same \
         machine as the clients, shared by every arm and run.",
        meta.version, opts.bootstrap
    );
    let _ = writeln!(
        w,
        "- **Machine**: {}; load average {} before, {} after.",
        machine(),
        meta.load.0,
        meta.load.1
    );
    let _ = writeln!(
        w,
        "- **Workload**: {} records of {}-byte values without keys per run; each producer arm \
         writes a fresh topic of {} partitions (replication factor 1), and every consumer arm \
         reads every such topic from the start.",
        report::thousands(opts.records as f64),
        opts.record_size,
        opts.partitions
    );
    let _ = writeln!(
        w,
        "- **Settings, the same for every arm**: linger {} ms; batch bytes {} (chosen because \
         librdkafka caps a batch at its `message.max.bytes`, 1,000,000, and franz-go's default \
         is 1,000,012; librdkafka's 10,000-message batch cap is lifted); a 32 MiB producer \
         buffer (Java's `buffer.memory` default); 5 produce requests in flight per connection; \
         acks=1 without idempotence and acks=all with it; compression none and lz4. Consumers \
         use their defaults (1 MiB per partition per fetch everywhere).",
        opts.linger_ms,
        report::thousands(opts.batch_bytes as f64)
    );
    let _ = writeln!(
        w,
        "- **Metrics**: records/s and MB/s (10^6 value bytes) from the arm's own timing (first \
         send to last acknowledgement; consumer creation to the last record); p50/p99 of every \
         record's send -> ack latency, at full speed (so mostly time queued in the 32 MiB \
         buffer); CPU seconds (user + system, all threads) per million records and peak RSS of \
         the whole client process from `wait4`, so they include process start (the JVM's too); \
         wall s is the process's start to exit."
    );
    let _ = if opts.repeat > 1 {
        writeln!(
            w,
            "- **Repetitions**: {} of everything, interleaved (every configuration once, then \
             again); each cell is the median of its runs, metric by metric, and `±` after \
             records/s is the largest distance of one run from that median.",
            opts.repeat
        )
    } else {
        writeln!(
            w,
            "- **Repetitions**: one run per cell; on this shared machine that is noisy (use \
             `--repeat`)."
        )
    };
    let _ = writeln!(w, "\n**Arms**:\n");
    for (name, what) in &meta.arms {
        let took = meta
            .build_times
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, t)| format!("; build/find step {:.1} s in this run", t.as_secs_f64()))
            .unwrap_or_default();
        let _ = writeln!(w, "- `{name}`: {what}{took}");
    }
    for (name, what, why) in &meta.skipped {
        let _ = writeln!(w, "- `{name}` (**skipped**: {why}): {what}");
    }

    let produce: Vec<&Row> = rows.iter().filter(|r| r.phase == Phase::Produce).collect();
    let _ = writeln!(w, "\n## Produce\n");
    let _ = write!(
        w,
        "{}",
        report::table(rows, &produce, BASELINE, true, false)
    );

    // The consume table proper: every consumer on the same topic, the first arm's in table order
    // that produced successfully (librdkafka's when it ran).
    let reference: Vec<&Row> = rows
        .iter()
        .filter(|r| r.phase == Phase::Consume)
        .filter(|r| {
            let first = rows
                .iter()
                .find(|s| s.phase == Phase::Consume && s.config == r.config)
                .and_then(|s| s.source.clone());
            r.source == first
        })
        .collect();
    let _ = writeln!(w, "\n## Consume\n");
    let _ = writeln!(
        w,
        "Each consumer reads the same topic: the one written by the first producer arm in table \
         order (the `topic from` column).\n"
    );
    let _ = write!(
        w,
        "{}",
        report::table(rows, &reference, BASELINE, false, true)
    );

    let _ = writeln!(w, "\n## Read-back of every producer's topic\n");
    let _ = writeln!(
        w,
        "records/s of each consumer on each producer's topic; `ok` means all {} records were \
         read, and for the contract arms' topics, the checksum of every value matched the one the \
         harness computed (`benches/README.md`, payload). Java's values are random, so there the \
         contract consumers' checksums must agree with each other; ConsumerPerformance only counts. \
         `MB on the broker` is the topic's size in the broker's log (record batches with their \
         headers, after compression; `LogDirsCommand`), against {:.1} MB of values.\n",
        report::thousands(opts.records as f64),
        (opts.records * opts.record_size as u64) as f64 / 1e6
    );
    let consumers: Vec<&str> = meta.arms.iter().map(|(n, _)| *n).collect();
    let _ = writeln!(
        w,
        "| config | topic from | MB on the broker | {} |",
        consumers.join(" | ")
    );
    let _ = writeln!(w, "|---|---|---:|{}", "---:|".repeat(consumers.len()));
    let mut keys: Vec<(String, String)> = Vec::new();
    for r in rows.iter().filter(|r| r.phase == Phase::Consume) {
        let key = (r.config.clone(), r.source.clone().unwrap_or_default());
        if !keys.contains(&key) {
            keys.push(key);
        }
    }
    for (config, source) in &keys {
        let cells: Vec<String> = consumers
            .iter()
            .map(|c| {
                match rows.iter().find(|r| {
                    r.phase == Phase::Consume
                        && r.config == *config
                        && r.source.as_deref() == Some(source)
                        && r.arm == *c
                }) {
                    None => "—".to_string(),
                    Some(r) => match &r.outcome {
                        Ok(s) => format!("{} ok", report::thousands(s.records_per_s)),
                        Err(e) => format!("**failed**: {}", e.replace('|', "\\|")),
                    },
                }
            })
            .collect();
        let log_mb = rows
            .iter()
            .find(|r| r.phase == Phase::Produce && r.config == *config && r.arm == *source)
            .and_then(|r| r.log_bytes)
            .map(|b| format!("{:.1}", b as f64 / 1e6))
            .unwrap_or_else(|| "?".into());
        let _ = writeln!(
            w,
            "| {config} | {source} | {log_mb} | {} |",
            cells.join(" | ")
        );
    }

    let _ = writeln!(w, "\n## Summary\n");
    let _ = writeln!(
        w,
        "Geometric mean over the configurations (and, for consumers, over every producer's \
         topic) of each arm's ratio to {BASELINE}.\n"
    );
    let _ = write!(w, "{}", report::summary(rows, &consumers, BASELINE));

    let _ = writeln!(w, "\n## Notes\n");
    let _ = writeln!(
        w,
        "- The Java tools' records/s is what they report (their timer starts after JVM start and \
         class loading; ConsumerPerformance's includes subscribing and the group join, which the \
         other consumers, assigned without a group, do not have); their CPU, RSS and wall \
         columns cover the whole JVM. ProducerPerformance measures latency in whole \
         milliseconds, shown here in µs."
    );
    let _ = writeln!(
        w,
        "- The wall s column is what includes JVM start for the Java tools (and process start \
         for every arm)."
    );
    let _ = writeln!(
        w,
        "- Consumers: franz-go uses its default fetch sizes (50 MiB per fetch, 1 MiB per \
         partition), ConsumerPerformance its own (1 MiB per partition, 2 MiB socket buffer), \
         librdkafka the same sizes with `fetch.queue.backoff.ms=10` (at its 1000 ms default the \
         consumer stalls a second whenever its prefetch queue fills: `benches/README.md`)."
    );
    let _ = writeln!(
        w,
        "- librdkafka's idempotent producer waits about 0.5 s for its producer id before the \
         first send (1000 records at acks=all: 0.51 s with idempotence, 0.008 s without), which \
         is in its acks=all times."
    );
    let mean_log = |codec: &str| {
        let sizes: Vec<f64> = rows
            .iter()
            .filter(|r| r.phase == Phase::Produce && r.config.ends_with(codec))
            .filter_map(|r| r.log_bytes)
            .map(|b| b as f64 / 1e6)
            .collect();
        (!sizes.is_empty()).then(|| sizes.iter().sum::<f64>() / sizes.len() as f64)
    };
    if let (Some(none), Some(lz4)) = (mean_log(" none"), mean_log(" lz4")) {
        let _ = writeln!(
            w,
            "- LZ4 left the topics at {:.0}% of their uncompressed size ({lz4:.1} vs {none:.1} MB on \
             the broker, on average): the values are random letters, as ProducerPerformance's \
             are, so the lz4 rows show what compressing costs more than what it saves.",
            lz4 / none * 100.0
        );
    }
    if let Some(note) = &opts.note {
        let _ = writeln!(w, "- {note}");
    }
    for r in rows {
        if r.notes.is_empty()
            || r.outcome.is_err()
            || r.notes.iter().all(|n| n.contains("verified"))
        {
            continue;
        }
        let phase = match r.phase {
            Phase::Produce => "produce".to_string(),
            Phase::Consume => format!("consume ({}'s topic)", r.source.as_deref().unwrap_or("?")),
        };
        let notes: Vec<&str> = r
            .notes
            .iter()
            .filter(|n| !n.contains("verified"))
            .map(String::as_str)
            .collect();
        let first = if opts.repeat > 1 {
            " (tool figures of the first run)"
        } else {
            ""
        };
        let _ = writeln!(
            w,
            "- {} {phase}, {}{first}: {}",
            r.arm,
            r.config,
            notes.join("; ")
        );
    }
    out
}

/// `program args...`'s first output line, or `?`.
fn command_line(program: &str, args: &[&str]) -> String {
    Command::new(program)
        .args(args)
        .output()
        .ok()
        .and_then(|o| String::from_utf8(o.stdout).ok())
        .and_then(|s| s.lines().next().map(str::to_string))
        .unwrap_or_else(|| "?".to_string())
}

fn git_commit(root: &Path) -> String {
    let head = command_line(
        "git",
        &[
            "-C",
            &root.display().to_string(),
            "rev-parse",
            "--short",
            "HEAD",
        ],
    );
    let dirty = Command::new("git")
        .args([
            "-C",
            &root.display().to_string(),
            "status",
            "--porcelain",
            "--untracked-files=no",
        ])
        .output()
        .map(|o| !o.stdout.is_empty())
        .unwrap_or(false);
    if dirty {
        format!("`{head}` with uncommitted changes")
    } else {
        format!("`{head}`")
    }
}

fn load_average() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .ok()
        .map(|s| s.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_else(|| "?".into())
}

/// CPU model, vCPUs, memory and kernel, from /proc.
fn machine() -> String {
    let cpu = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("model name"))
                .and_then(|l| l.split_once(':'))
                .map(|(_, v)| v.trim().to_string())
        })
        .unwrap_or_else(|| "unknown CPU".into());
    let cores = std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(0);
    let mem_gib = std::fs::read_to_string("/proc/meminfo")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("MemTotal:"))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|kb| kb.parse::<f64>().ok())
        })
        .map(|kb| kb / 1024.0 / 1024.0)
        .unwrap_or(0.0);
    let kernel = std::fs::read_to_string("/proc/sys/kernel/osrelease")
        .map(|s| s.trim().to_string())
        .unwrap_or_default();
    format!(
        "{cpu}, {cores} vCPUs, {mem_gib:.0} GiB RAM, Linux {kernel}, shared with other engineers' \
         builds and tests (the broker too), clients and broker on the same cores"
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(s: &str) -> Vec<String> {
        s.split_whitespace().map(String::from).collect()
    }

    #[test]
    fn options_and_configs() {
        let o = Opts::parse(&args(
            "--records 100000 --arms librdkafka,java --compression lz4 --no-write",
        ))
        .unwrap();
        assert_eq!(o.records, 100_000);
        assert_eq!(o.arms.as_deref(), Some("librdkafka,java"));
        assert!(o.out.is_none());
        let labels: Vec<String> = o.configs().iter().map(Config::label).collect();
        assert_eq!(labels, ["acks=1 lz4", "acks=all idem lz4"]);
        assert_eq!(o.configs()[1].slug(), "acksall-lz4");
        assert!(Opts::parse(&args("--compression gzip")).is_err());
        assert!(Opts::parse(&args("--records")).is_err());
        assert!(Opts::parse(&args("--records 0")).is_err());
        assert!(Opts::parse(&args("--bogus")).is_err());
        let d = Opts::parse(&[]).unwrap();
        assert_eq!(
            (d.records, d.partitions, d.batch_bytes, d.linger_ms),
            (2_000_000, 3, 1_000_000, 5)
        );
        assert_eq!(d.configs().len(), 4);
    }

    #[test]
    fn stats_from_a_report() {
        let report = parse::Report {
            records: 2_000_000,
            bytes: 200_000_000,
            seconds: 4.0,
            p50_us: Some(1.0),
            p99_us: Some(2.0),
            errors: 0,
            checksum: None,
            notes: Vec::new(),
        };
        let s = stats_of(
            &report,
            Duration::from_secs(3),
            51_200,
            Duration::from_millis(5500),
        );
        assert_eq!(s.records_per_s, 500_000.0);
        assert_eq!(s.mb_per_s, 50.0);
        assert_eq!(s.cpu_s_per_m, 1.5);
        assert_eq!(s.rss_mib, 50.0);
        assert_eq!(s.wall_s, 5.5);
    }

    #[test]
    fn last_stderr_line_skips_the_trailer() {
        let dir = std::env::temp_dir().join(format!("xtask-bench-log-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let log = dir.join("l.log");
        std::fs::write(&log, "$ \"arm\" \"produce\"\nfirst\nreal cause\n\n--- stdout ---\n{}\n--- exit status: 1 ---\n").unwrap();
        assert_eq!(last_stderr_line(&log).as_deref(), Some("real cause"));
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
