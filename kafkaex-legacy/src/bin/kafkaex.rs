//! `kafkaex`: command-line tools of kafkaex-rs.
//!
//! `kafkaex offsets show|migrate|rollback|verify` moves consumer groups' committed offsets
//! between ZooKeeper storage (OffsetCommit/OffsetFetch v0, what KafkaEx's legacy API uses by
//! default) and Kafka storage (v1+), with [`kafkaex_legacy::migrate`]. See MIGRATING.md.

use std::io::{IsTerminal, Write};
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Args, Parser, Subcommand};
use kafkaex_client::config::{parse_properties, Config};
use kafkaex_client::Client;
use kafkaex_legacy::migrate::{
    self, ApplyOptions, Direction, MigrateError, Migration, Progress, Report, DEFAULT_BATCH_SIZE,
    DEFAULT_KAFKA_VERSION,
};

/// Every partition ended well.
const EXIT_OK: u8 = 0;
/// Some partition was refused, failed, not attempted, unverified or mismatched.
const EXIT_PARTITIONS: u8 = 1;
/// Bad arguments or settings (clap uses 2 for its own usage errors too).
const EXIT_USAGE: u8 = 2;
/// The run could not happen: no ZooKeeper storage (Kafka 4.x), active members, no
/// connection, an unknown topic, a group that could not be read.
const EXIT_RUN: u8 = 3;

#[derive(Debug, Parser)]
#[command(
    name = "kafkaex",
    version,
    about = "kafkaex-rs command-line tools",
    after_help = "Exit codes: 0 every partition verified (or planned, or nothing to copy); \
                  1 a partition was refused, failed, not attempted, unverified or mismatched; \
                  2 bad arguments or settings; 3 the run could not happen (no ZooKeeper \
                  storage on this cluster, active members, connection, unknown topic)."
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Committed offsets between ZooKeeper storage (v0) and Kafka storage (v1+).
    #[command(subcommand)]
    Offsets(Offsets),
}

#[derive(Debug, Subcommand)]
enum Offsets {
    /// Print, per partition, the ZooKeeper offset, the Kafka-stored offset and the action a
    /// migration (or with --rollback, a rollback) would take. Writes nothing.
    Show(ShowArgs),
    /// Copy offsets ZooKeeper -> Kafka (OffsetFetch v0 -> OffsetCommit v2+). A dry run unless
    /// --apply.
    Migrate(WriteArgs),
    /// Copy offsets Kafka -> ZooKeeper (OffsetFetch v2+ -> OffsetCommit v0). A dry run unless
    /// --apply. ZooKeeper keeps no metadata strings.
    Rollback(WriteArgs),
    /// Compare both storages per partition; exit 1 on any mismatch. Writes nothing.
    Verify(VerifyArgs),
}

#[derive(Debug, Args)]
struct Connection {
    /// Brokers to bootstrap from: host:port[,host:port...] (overrides bootstrap.servers of
    /// --command-config).
    #[arg(long, value_delimiter = ',', value_name = "HOST:PORT")]
    bootstrap: Vec<String>,
    /// A Java-style properties file with client settings: security.protocol, ssl.*, sasl.*,
    /// client.id, request.timeout.ms, ... (as kafkaex-client's Config::from_properties reads
    /// them).
    #[arg(long, value_name = "FILE")]
    command_config: Option<PathBuf>,
}

#[derive(Debug, Args)]
struct Selection {
    /// A consumer group (repeat for more).
    #[arg(
        long = "group",
        value_name = "GROUP",
        required_unless_present = "all_groups"
    )]
    groups: Vec<String>,
    /// Every group the brokers list (groups known only to ZooKeeper are not listed: name
    /// them with --group).
    #[arg(long, conflicts_with = "groups")]
    all_groups: bool,
    /// Only this topic (repeat for more); default: every topic of the cluster.
    #[arg(long = "topic", value_name = "TOPIC")]
    topics: Vec<String>,
    /// The Kafka-side OffsetCommit/OffsetFetch version (2+ to migrate, 1+ to roll back).
    #[arg(long, value_name = "N", default_value_t = DEFAULT_KAFKA_VERSION)]
    commit_version: i16,
    /// Print the report as JSON on stdout instead of a table.
    #[arg(long)]
    json: bool,
}

#[derive(Debug, Args)]
struct ShowArgs {
    #[command(flatten)]
    connection: Connection,
    #[command(flatten)]
    selection: Selection,
    /// Show the actions of a rollback (Kafka -> ZooKeeper) instead of a migration.
    #[arg(long)]
    rollback: bool,
    /// Show the actions as with --force (newer target offsets overwritten).
    #[arg(long)]
    force: bool,
}

#[derive(Debug, Args)]
struct VerifyArgs {
    #[command(flatten)]
    connection: Connection,
    #[command(flatten)]
    selection: Selection,
    /// Verify a rollback (ZooKeeper equals Kafka's offsets) instead of a migration.
    #[arg(long)]
    rollback: bool,
}

#[derive(Debug, Args)]
struct WriteArgs {
    #[command(flatten)]
    connection: Connection,
    #[command(flatten)]
    selection: Selection,
    /// Write (without it: a dry run that prints what would be done).
    #[arg(long)]
    apply: bool,
    /// Overwrite target offsets that are newer than the source's.
    #[arg(long)]
    force: bool,
    /// Go on although groups have active members (their consumers may commit over the copy;
    /// Kafka storage refuses such commits anyway with UNKNOWN_MEMBER_ID).
    #[arg(long)]
    allow_active_members: bool,
    /// Partitions per OffsetCommit.
    #[arg(long, value_name = "N", default_value_t = DEFAULT_BATCH_SIZE)]
    batch_size: usize,
}

/// What to run, from the arguments.
struct Run<'a> {
    connection: &'a Connection,
    selection: &'a Selection,
    direction: Direction,
    verify: bool,
    options: ApplyOptions,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
    {
        Ok(r) => r,
        Err(e) => {
            eprintln!("kafkaex: cannot start the async runtime: {e}");
            return ExitCode::from(EXIT_RUN);
        }
    };
    let Command::Offsets(offsets) = &cli.command;
    let run = match offsets {
        Offsets::Show(a) => Run {
            connection: &a.connection,
            selection: &a.selection,
            direction: if a.rollback {
                Direction::Rollback
            } else {
                Direction::Migrate
            },
            verify: false,
            options: ApplyOptions::default().force(a.force),
        },
        Offsets::Verify(a) => Run {
            connection: &a.connection,
            selection: &a.selection,
            direction: if a.rollback {
                Direction::Rollback
            } else {
                Direction::Migrate
            },
            verify: true,
            options: ApplyOptions::default(),
        },
        Offsets::Migrate(a) | Offsets::Rollback(a) => Run {
            connection: &a.connection,
            selection: &a.selection,
            direction: if matches!(offsets, Offsets::Rollback(_)) {
                Direction::Rollback
            } else {
                Direction::Migrate
            },
            verify: false,
            options: ApplyOptions::default()
                .dry_run(!a.apply)
                .force(a.force)
                .allow_active_members(a.allow_active_members)
                .batch_size(a.batch_size),
        },
    };
    ExitCode::from(runtime.block_on(execute(run)))
}

async fn execute(run: Run<'_>) -> u8 {
    let json = run.selection.json;
    let client = match connect(run.connection).await {
        Ok(c) => c,
        Err((code, message)) => {
            fail(json, "connection", &message);
            return code;
        }
    };
    let selection = run.selection;
    let mut migration = if selection.all_groups {
        Migration::all_groups(run.direction)
    } else {
        Migration::new(run.direction, selection.groups.iter().cloned())
    }
    .kafka_version(selection.commit_version);
    if !selection.topics.is_empty() {
        migration = migration.topics(selection.topics.iter().cloned());
    }
    let result = if run.verify {
        migrate::verify(&client, &migration).await
    } else {
        let mut progress = ProgressLine::new(run.options.batch_size);
        let result =
            migrate::apply_with_progress(&client, &migration, &run.options, |p| progress.show(p))
                .await;
        progress.finish();
        result
    };
    match result {
        Ok(report) => {
            print_report(&report, json);
            if report.is_success() {
                EXIT_OK
            } else {
                EXIT_PARTITIONS
            }
        }
        Err(err) => {
            let code = match err {
                MigrateError::InvalidArgument(_) => EXIT_USAGE,
                _ => EXIT_RUN,
            };
            fail(json, err.kind(), &chain(&err));
            code
        }
    }
}

/// The client from `--command-config` and `--bootstrap`; topics are never auto-created.
async fn connect(connection: &Connection) -> Result<Client, (u8, String)> {
    let mut pairs: Vec<(String, String)> = match &connection.command_config {
        Some(path) => match std::fs::read_to_string(path) {
            Ok(text) => parse_properties(&text),
            Err(e) => {
                return Err((
                    EXIT_USAGE,
                    format!("cannot read --command-config {}: {e}", path.display()),
                ))
            }
        },
        None => Vec::new(),
    };
    if !connection.bootstrap.is_empty() {
        pairs.retain(|(k, _)| k != "bootstrap.servers");
        pairs.push(("bootstrap.servers".into(), connection.bootstrap.join(",")));
    }
    if !pairs.iter().any(|(k, _)| k == "allow.auto.create.topics") {
        pairs.push(("allow.auto.create.topics".into(), "false".into()));
    }
    if !pairs.iter().any(|(k, _)| k == "client.id") {
        pairs.push(("client.id".into(), "kafkaex-offsets".into()));
    }
    let config = Config::from_pairs(pairs).map_err(|e| (EXIT_USAGE, chain(&e)))?;
    if config.client.bootstrap.is_empty() {
        return Err((
            EXIT_USAGE,
            "no brokers: give --bootstrap host:port (or bootstrap.servers in --command-config)"
                .into(),
        ));
    }
    Client::from_config(&config)
        .await
        .map_err(|e| (EXIT_RUN, format!("cannot connect: {}", chain(&e))))
}

fn print_report(report: &Report, json: bool) {
    let mut out = std::io::stdout().lock();
    let text = if json {
        match serde_json::to_string_pretty(report) {
            Ok(s) => s + "\n",
            Err(e) => format!(
                "{{\"error\":{{\"kind\":\"json\",\"message\":{:?}}}}}\n",
                e.to_string()
            ),
        }
    } else {
        report.to_table()
    };
    let _ = out.write_all(text.as_bytes());
    let _ = out.flush();
}

/// Reports an error that ended the run: on stderr, and as JSON on stdout with `--json`.
fn fail(json: bool, kind: &str, message: &str) {
    eprintln!("kafkaex: {message}");
    if json {
        let value = serde_json::json!({ "error": { "kind": kind, "message": message } });
        println!("{value}");
    }
}

/// An error with its causes, `: `-separated.
fn chain(err: &dyn std::error::Error) -> String {
    let mut text = err.to_string();
    let mut source = err.source();
    while let Some(s) = source {
        text.push_str(": ");
        text.push_str(&s.to_string());
        source = s.source();
    }
    text
}

/// The progress line on stderr, once a run has more than one commit to make: rewritten in
/// place on a terminal, a line per commit otherwise.
struct ProgressLine {
    batch_size: usize,
    terminal: bool,
    shown: bool,
}

impl ProgressLine {
    fn new(batch_size: usize) -> Self {
        Self {
            batch_size,
            terminal: std::io::stderr().is_terminal(),
            shown: false,
        }
    }

    fn show(&mut self, p: &Progress) {
        if p.total <= self.batch_size {
            return;
        }
        let failed = if p.failed.is_empty() {
            String::new()
        } else {
            format!(", {} failed in this commit", p.failed.len())
        };
        let line = format!(
            "kafkaex: {}/{} partitions written (group {}){failed}",
            p.done, p.total, p.group
        );
        if self.terminal {
            eprint!("\r\x1b[2K{line}");
        } else {
            eprintln!("{line}");
        }
        self.shown = true;
    }

    fn finish(&mut self) {
        if self.terminal && self.shown {
            eprintln!();
        }
    }
}
