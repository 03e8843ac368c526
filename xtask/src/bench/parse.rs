//! What an arm reports: the contract's JSON line, or the summary of Kafka's Java perf tools.

use anyhow::{bail, ensure, Context, Result};
use serde::Deserialize;

/// One run's own report, in the contract's units.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Report {
    /// Records acknowledged (produce) or read (consume).
    pub(crate) records: u64,
    /// Value bytes of those records.
    pub(crate) bytes: u64,
    /// The arm's own timing: first send to last acknowledgement, or consumer creation to the
    /// last record read.
    pub(crate) seconds: f64,
    /// Median send -> ack latency (produce only).
    pub(crate) p50_us: Option<f64>,
    /// 99th percentile send -> ack latency (produce only).
    pub(crate) p99_us: Option<f64>,
    /// Failed sends/deliveries or fetch errors.
    pub(crate) errors: u64,
    /// Consumers: the order-independent checksum of every value read (see `payload`).
    pub(crate) checksum: Option<String>,
    /// Anything else worth a note (Java's group join time, ...).
    pub(crate) notes: Vec<String>,
}

/// The contract's line, as the arms print it. Unknown fields are allowed (an arm may add its own).
#[derive(Debug, Deserialize)]
struct ArmLine {
    records: u64,
    bytes: u64,
    seconds: f64,
    #[serde(default)]
    p50_us: Option<f64>,
    #[serde(default)]
    p99_us: Option<f64>,
    #[serde(default)]
    errors: u64,
    #[serde(default)]
    checksum: Option<String>,
}

/// Parses a contract arm's stdout: its last non-empty line must be the JSON object.
pub(crate) fn arm_line(stdout: &str) -> Result<Report> {
    let line = stdout
        .lines()
        .map(str::trim)
        .rfind(|l| !l.is_empty())
        .context("the arm printed nothing on stdout")?;
    let v: ArmLine = serde_json::from_str(line).with_context(|| {
        format!("the arm's last stdout line is not the contract's JSON: {line}")
    })?;
    ensure!(
        v.seconds.is_finite() && v.seconds > 0.0,
        "the arm reported {} seconds",
        v.seconds
    );
    Ok(Report {
        records: v.records,
        bytes: v.bytes,
        seconds: v.seconds,
        p50_us: v.p50_us,
        p99_us: v.p99_us,
        errors: v.errors,
        checksum: v.checksum.map(|c| c.to_ascii_lowercase()),
        notes: Vec::new(),
    })
}

/// Parses `ProducerPerformance`'s final summary, the one line with percentiles:
///
/// ```text
/// 200000 records sent, 146735.143067 records/sec (13.99 MB/sec), 51.32 ms avg latency,
/// 632.00 ms max latency, 41 ms 50th, 136 ms 95th, 159 ms 99th, 163 ms 99.9th.
/// ```
///
/// (one line in the output). Its latencies are whole milliseconds (`System.currentTimeMillis`),
/// converted here to microseconds. The periodic progress lines have no percentiles and are
/// skipped. `record_size` gives the byte count (the tool prints MiB/s, rounded).
pub(crate) fn producer_performance(stdout: &str, record_size: usize) -> Result<Report> {
    let line = stdout
        .lines()
        .rfind(|l| l.contains("records sent") && l.contains("50th"))
        .context("no ProducerPerformance summary line (`... records sent, ... 50th, ...`)")?;
    let mut records = None;
    let mut rate = None;
    let (mut p50, mut p99, mut avg, mut max, mut p999) = (None, None, None, None, None);
    for part in line.trim().trim_end_matches('.').split(", ") {
        let (num, label) = part
            .trim()
            .split_once(' ')
            .with_context(|| format!("unexpected field {part:?} in {line:?}"))?;
        let value: f64 = num
            .parse()
            .with_context(|| format!("bad number {num:?} in {line:?}"))?;
        match label {
            "records sent" => records = Some(value),
            l if l.starts_with("records/sec") => rate = Some(value),
            "ms avg latency" => avg = Some(value),
            "ms max latency" => max = Some(value),
            "ms 50th" => p50 = Some(value),
            "ms 99th" => p99 = Some(value),
            "ms 99.9th" => p999 = Some(value),
            _ => {}
        }
    }
    let (Some(records), Some(rate)) = (records, rate) else {
        bail!("no record count or rate in {line:?}");
    };
    ensure!(rate > 0.0, "rate {rate} in {line:?}");
    let records = records as u64;
    let mut notes = Vec::new();
    if let (Some(avg), Some(max), Some(p999)) = (avg, max, p999) {
        notes.push(format!("tool: avg {avg} ms, p99.9 {p999} ms, max {max} ms"));
    }
    Ok(Report {
        records,
        bytes: records * record_size as u64,
        seconds: records as f64 / rate,
        p50_us: p50.map(|ms| ms * 1000.0),
        p99_us: p99.map(|ms| ms * 1000.0),
        errors: 0,
        checksum: None,
        notes,
    })
}

/// Parses `ConsumerPerformance`'s header and values lines:
///
/// ```text
/// start.time, end.time, data.consumed.in.MB, MB.sec, data.consumed.in.nMsg, nMsg.sec,
/// rebalance.time.ms, fetch.time.ms, fetch.MB.sec, fetch.nMsg.sec
/// 2026-12-01 21:08:25:560, 2026-12-01 21:08:27:021, 19.0735, 13.0551, 200000, 136892.5394,
/// 739, 722, 26.4176, 277008.3102
/// ```
///
/// (two lines in the output). The rate taken is `nMsg.sec`, over the tool's whole timed span
/// (subscribe, group join, fetching); the fetch-only rate goes into the notes.
pub(crate) fn consumer_performance(stdout: &str, record_size: usize) -> Result<Report> {
    let lines: Vec<&str> = stdout.lines().collect();
    let header_at = lines
        .iter()
        .rposition(|l| l.starts_with("start.time,"))
        .context("no ConsumerPerformance header line (`start.time, end.time, ...`)")?;
    let header: Vec<&str> = lines[header_at].split(',').map(str::trim).collect();
    let values: Vec<&str> = lines
        .get(header_at + 1)
        .context("ConsumerPerformance printed a header but no values")?
        .split(',')
        .map(str::trim)
        .collect();
    ensure!(
        header.len() == values.len(),
        "ConsumerPerformance: {} columns in the header, {} values",
        header.len(),
        values.len()
    );
    let field = |name: &str| -> Result<f64> {
        let i = header
            .iter()
            .position(|h| *h == name)
            .with_context(|| format!("ConsumerPerformance printed no {name} column"))?;
        values[i]
            .parse()
            .with_context(|| format!("ConsumerPerformance {name} = {:?}", values[i]))
    };
    let records = field("data.consumed.in.nMsg")?;
    let rate = field("nMsg.sec")?;
    ensure!(
        rate.is_finite() && rate > 0.0,
        "ConsumerPerformance nMsg.sec = {rate}"
    );
    let mut notes = Vec::new();
    if let (Ok(join), Ok(fetch_rate)) = (field("rebalance.time.ms"), field("fetch.nMsg.sec")) {
        notes.push(format!(
            "tool: group join {join} ms, fetch-only {fetch_rate:.0} records/s"
        ));
    }
    let records = records as u64;
    Ok(Report {
        records,
        bytes: records * record_size as u64,
        seconds: records as f64 / rate,
        p50_us: None,
        p99_us: None,
        errors: 0,
        checksum: None,
        notes,
    })
}

/// Sums the end offsets `GetOffsetShell` prints for `topic`, one `topic:partition:offset` line
/// per partition.
pub(crate) fn end_offsets(stdout: &str, topic: &str) -> Result<u64> {
    let mut sum = 0u64;
    let mut partitions = 0;
    for line in stdout.lines().map(str::trim).filter(|l| !l.is_empty()) {
        let mut parts = line.rsplitn(3, ':');
        let (Some(offset), Some(_partition), Some(name)) =
            (parts.next(), parts.next(), parts.next())
        else {
            bail!("unexpected GetOffsetShell line {line:?}");
        };
        if name != topic {
            continue;
        }
        sum += offset
            .parse::<u64>()
            .with_context(|| format!("bad offset in GetOffsetShell line {line:?}"))?;
        partitions += 1;
    }
    ensure!(
        partitions > 0,
        "GetOffsetShell listed no partition of {topic}"
    );
    Ok(sum)
}

/// The bytes each topic of `topics` holds on the broker, from `LogDirsCommand --describe`'s
/// JSON line (partitions are named `<topic>-<n>`).
pub(crate) fn log_dir_sizes(stdout: &str, topics: &[String]) -> Result<Vec<(String, u64)>> {
    let line = stdout
        .lines()
        .find(|l| l.trim_start().starts_with('{'))
        .context("LogDirsCommand printed no JSON")?;
    let v: serde_json::Value = serde_json::from_str(line).context("LogDirsCommand's JSON")?;
    let mut sizes: Vec<(String, u64)> = topics.iter().map(|t| (t.clone(), 0)).collect();
    let brokers = v["brokers"]
        .as_array()
        .context("no brokers in LogDirsCommand's JSON")?;
    for dir in brokers
        .iter()
        .filter_map(|b| b["logDirs"].as_array())
        .flatten()
    {
        for p in dir["partitions"].as_array().into_iter().flatten() {
            let (Some(name), Some(size)) = (p["partition"].as_str(), p["size"].as_u64()) else {
                continue;
            };
            let Some((topic, _)) = name.rsplit_once('-') else {
                continue;
            };
            if let Some(entry) = sizes.iter_mut().find(|(t, _)| t == topic) {
                entry.1 += size;
            }
        }
    }
    Ok(sizes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn arm_json_line() {
        let out = "starting\n{\"records\":2000000,\"bytes\":200000000,\"seconds\":2.5,\"p50_us\":1200,\"p99_us\":5300.5,\"p999_us\":9000,\"errors\":0}\n\n";
        let r = arm_line(out).unwrap();
        assert_eq!(r.records, 2_000_000);
        assert_eq!(r.bytes, 200_000_000);
        assert_eq!(r.seconds, 2.5);
        assert_eq!(r.p50_us, Some(1200.0));
        assert_eq!(r.p99_us, Some(5300.5));
        assert_eq!(r.errors, 0);
        assert_eq!(r.checksum, None);

        // A consumer's line: no latency, a checksum (normalised to lowercase); franz-go's
        // encoder sorts keys, so the order differs.
        let c = arm_line(
            r#"{"bytes":100,"checksum":"00018769D22A8182","errors":2,"records":1,"seconds":0.1}"#,
        )
        .unwrap();
        assert_eq!(c.checksum.as_deref(), Some("00018769d22a8182"));
        assert_eq!((c.records, c.errors, c.p50_us), (1, 2, None));
    }

    #[test]
    fn arm_json_line_errors() {
        assert!(arm_line("").is_err());
        assert!(arm_line("{\"records\":1}\nnot json\n").is_err());
        // The JSON must be the last line.
        assert!(arm_line("{\"records\":1,\"bytes\":1,\"seconds\":1}\ntrailing\n").is_err());
        assert!(arm_line("{\"records\":1,\"bytes\":1,\"seconds\":0}").is_err());
        assert!(arm_line("{\"records\":-1,\"bytes\":1,\"seconds\":1}").is_err());
    }

    /// Output of Kafka 4.4.0's ProducerPerformance (100k records, a progress line first).
    const PRODUCER_OUT: &str = "\
2873285 records sent, 574542.3 records/sec (54.79 MB/sec), 40.9 ms avg latency, 223.0 ms max latency.
200000 records sent, 146735.143067 records/sec (13.99 MB/sec), 51.32 ms avg latency, 632.00 ms max latency, 41 ms 50th, 136 ms 95th, 159 ms 99th, 163 ms 99.9th.
";

    #[test]
    fn producer_performance_summary() {
        let r = producer_performance(PRODUCER_OUT, 100).unwrap();
        assert_eq!(r.records, 200_000);
        assert_eq!(r.bytes, 20_000_000);
        assert!((r.seconds - 200_000.0 / 146_735.143_067).abs() < 1e-9);
        assert_eq!(r.p50_us, Some(41_000.0));
        assert_eq!(r.p99_us, Some(159_000.0));
        assert_eq!(r.notes, ["tool: avg 51.32 ms, p99.9 163 ms, max 632 ms"]);
    }

    #[test]
    fn producer_performance_without_summary() {
        let progress = PRODUCER_OUT.lines().next().unwrap();
        assert!(producer_performance(progress, 100).is_err());
        assert!(producer_performance("", 100).is_err());
        let garbled = "x records sent, 1 records/sec (1 MB/sec), 1 ms avg latency, 1 ms 50th.";
        assert!(producer_performance(garbled, 100).is_err());
    }

    /// Output of Kafka 4.4.0's ConsumerPerformance.
    const CONSUMER_OUT: &str = "\
start.time, end.time, data.consumed.in.MB, MB.sec, data.consumed.in.nMsg, nMsg.sec, rebalance.time.ms, fetch.time.ms, fetch.MB.sec, fetch.nMsg.sec
2026-12-01 21:08:25:560, 2026-12-01 21:08:27:021, 19.0735, 13.0551, 200000, 136892.5394, 739, 722, 26.4176, 277008.3102
";

    #[test]
    fn consumer_performance_csv() {
        let r = consumer_performance(CONSUMER_OUT, 100).unwrap();
        assert_eq!(r.records, 200_000);
        assert_eq!(r.bytes, 20_000_000);
        assert!((r.seconds - 200_000.0 / 136_892.539_4).abs() < 1e-9);
        assert_eq!(r.p50_us, None);
        assert_eq!(
            r.notes,
            ["tool: group join 739 ms, fetch-only 277008 records/s"]
        );
        // A warning line before the header does not matter.
        let warned = format!(
            "WARNING: Exiting before consuming the expected number of records\n{CONSUMER_OUT}"
        );
        assert_eq!(consumer_performance(&warned, 100).unwrap().records, 200_000);
    }

    #[test]
    fn consumer_performance_errors() {
        let header = CONSUMER_OUT.lines().next().unwrap();
        assert!(consumer_performance(header, 100).is_err());
        assert!(consumer_performance("", 100).is_err());
        let short = format!("{header}\n2026-12-01 21:08:25:560, 1, 2\n");
        assert!(consumer_performance(&short, 100).is_err());
        let zero = CONSUMER_OUT.replace("136892.5394", "0.0000");
        assert!(consumer_performance(&zero, 100).is_err());
    }

    #[test]
    fn end_offsets_are_summed() {
        let out = "e2e-t:0:1433335\ne2e-t:1:1431938\nother:0:5\ne2e-t:2:1137727\n";
        assert_eq!(
            end_offsets(out, "e2e-t").unwrap(),
            1_433_335 + 1_431_938 + 1_137_727
        );
        assert!(end_offsets("", "e2e-t").is_err());
        assert!(end_offsets("e2e-t:0:x\n", "e2e-t").is_err());
        assert!(end_offsets("garbage\n", "e2e-t").is_err());
    }

    #[test]
    fn log_dir_sizes_per_topic() {
        let out = r#"Querying brokers for log directories information
Received log directory information from brokers 1
{"brokers":[{"broker":1,"logDirs":[{"partitions":[{"partition":"a-b-0","size":10,"offsetLag":0,"isFuture":false},{"partition":"a-b-1","size":5,"offsetLag":0,"isFuture":false},{"partition":"a-0","size":7,"offsetLag":0,"isFuture":false},{"partition":"x-0","size":1,"offsetLag":0,"isFuture":false}],"error":null,"logDir":"/d"}]}],"version":1}
"#;
        let sizes = log_dir_sizes(
            out,
            &["a-b".to_string(), "a".to_string(), "gone".to_string()],
        )
        .unwrap();
        assert_eq!(
            sizes,
            [
                ("a-b".to_string(), 15),
                ("a".to_string(), 7),
                ("gone".to_string(), 0)
            ]
        );
        assert!(log_dir_sizes("no json", &[]).is_err());
    }
}
