//! The librdkafka arm of `cargo xtask bench e2e`, through the `rdkafka` crate (bundled librdkafka).
//!
//! Follows the arm contract of `benches/README.md`:
//!
//! ```text
//! e2e-arm-rdkafka produce --bootstrap H:P --topic T --records N --record-size 100 --acks 1|all \
//!     --compression none|lz4 --linger-ms L --batch-bytes B [--idempotent true|false]
//! e2e-arm-rdkafka consume --bootstrap H:P --topic T --records N
//! ```
//!
//! and prints one JSON line on stdout at the end. The producer is a `BaseProducer` polled from
//! the sending thread; each record carries its send time (nanoseconds since the start) as its
//! delivery opaque, so the delivery callback records send -> ack latency without a lookup. The
//! consumer is a `BaseConsumer` with every partition assigned from the beginning (no group join,
//! no commits). `E2E_RDKAFKA_CONFIG=key=value,...` adds librdkafka properties, for trying one by
//! hand.

use std::collections::HashMap;
use std::process::ExitCode;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use hdrhistogram::Histogram;
use rdkafka::config::ClientConfig;
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::error::{KafkaError, RDKafkaErrorCode};
use rdkafka::message::Message;
use rdkafka::producer::{BaseProducer, BaseRecord, DeliveryResult, Producer, ProducerContext};
use rdkafka::{ClientContext, Offset, TopicPartitionList};

/// Give up when no record arrives (consumer) or not every record is acknowledged (producer) for
/// this long.
const STALL: Duration = Duration::from_secs(60);

/// Producer buffer shared by every arm: 32 MiB, Java's `buffer.memory` default.
const BUFFER_KBYTES: u32 = 32 * 1024;

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let result = match args.first().map(String::as_str) {
        Some("produce") => Opts::parse(&args[1..]).and_then(|o| produce(&o)),
        Some("consume") => Opts::parse(&args[1..]).and_then(|o| consume(&o)),
        _ => Err(
            "usage: e2e-arm-rdkafka produce|consume --bootstrap H:P --topic T --records N ..."
                .into(),
        ),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("e2e-arm-rdkafka: {e}");
            ExitCode::FAILURE
        }
    }
}

type Error = Box<dyn std::error::Error>;

/// The contract's options (`--name value` pairs).
struct Opts(HashMap<String, String>);

impl Opts {
    fn parse(args: &[String]) -> Result<Self, Error> {
        let mut map = HashMap::new();
        let mut it = args.iter();
        while let Some(flag) = it.next() {
            let name = flag
                .strip_prefix("--")
                .ok_or_else(|| format!("unexpected argument {flag:?}"))?;
            let value = it.next().ok_or_else(|| format!("{flag} needs a value"))?;
            map.insert(name.to_string(), value.clone());
        }
        Ok(Opts(map))
    }

    fn str(&self, name: &str) -> Result<&str, Error> {
        self.0
            .get(name)
            .map(String::as_str)
            .ok_or_else(|| format!("--{name} is required").into())
    }

    fn num(&self, name: &str) -> Result<u64, Error> {
        let v = self.str(name)?;
        v.parse()
            .map_err(|_| format!("--{name} {v:?} is not a number").into())
    }
}

/// Extra librdkafka properties from `E2E_RDKAFKA_CONFIG` (`key=value,key=value`), applied last:
/// for trying a setting by hand without editing the arm. The harness never sets it.
fn apply_env_overrides(config: &mut ClientConfig) {
    if let Ok(extra) = std::env::var("E2E_RDKAFKA_CONFIG") {
        for kv in extra.split(',').filter(|kv| !kv.is_empty()) {
            if let Some((k, v)) = kv.split_once('=') {
                eprintln!("e2e-arm-rdkafka: {k}={v} (E2E_RDKAFKA_CONFIG)");
                config.set(k, v);
            }
        }
    }
}

/// Writes the contract's value of record `index` (benches/README.md): letters `A..Z` drawn from
/// splitmix64 seeded with the index, one per byte of its output, little-endian. Random letters,
/// like Java's ProducerPerformance, so that LZ4 meets the same (low) redundancy in every arm.
fn fill_value(value: &mut [u8], index: u64) {
    let mut state = index;
    for chunk in value.chunks_mut(8) {
        let x = splitmix64(&mut state).to_le_bytes();
        for (b, r) in chunk.iter_mut().zip(x) {
            *b = b'A' + r % 26;
        }
    }
}

fn splitmix64(state: &mut u64) -> u64 {
    *state = state.wrapping_add(0x9E37_79B9_7F4A_7C15);
    let mut z = *state;
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// Delivery callbacks: latency histogram, counts, time of the last acknowledgement.
struct Ctx {
    start: Instant,
    hist: Mutex<Histogram<u64>>,
    acked: AtomicU64,
    errors: AtomicU64,
    last_ack_ns: AtomicU64,
}

impl ClientContext for Ctx {}

impl ProducerContext for Ctx {
    /// The record's send time in nanoseconds since `start`.
    type DeliveryOpaque = usize;

    fn delivery(&self, result: &DeliveryResult<'_>, sent_ns: usize) {
        let now = self.start.elapsed().as_nanos() as u64;
        match result {
            Ok(_) => {
                let us = now.saturating_sub(sent_ns as u64) / 1000;
                // Saturating: the histogram auto-resizes, so this only fails on u64 overflow.
                let _ = self.hist.lock().expect("unpoisoned").record(us.max(1));
                self.acked.fetch_add(1, Ordering::Relaxed);
            }
            Err((e, _)) => {
                if self.errors.fetch_add(1, Ordering::Relaxed) < 5 {
                    eprintln!("e2e-arm-rdkafka: delivery failed: {e}");
                }
            }
        }
        self.last_ack_ns.fetch_max(now, Ordering::Relaxed);
    }
}

fn produce(o: &Opts) -> Result<(), Error> {
    let topic = o.str("topic")?;
    let records = o.num("records")?;
    let size = o.num("record-size")? as usize;
    let acks = o.str("acks")?;
    let idempotent = match o.0.get("idempotent") {
        Some(v) => v == "true",
        None => acks == "all",
    };
    let mut config = ClientConfig::new();
    config
        .set("bootstrap.servers", o.str("bootstrap")?)
        .set("acks", acks)
        .set("compression.codec", o.str("compression")?)
        .set("linger.ms", o.str("linger-ms")?)
        .set("batch.size", o.str("batch-bytes")?)
        // librdkafka also caps a batch at 10000 messages by default; let bytes be the limit.
        .set("batch.num.messages", "1000000")
        .set(
            "enable.idempotence",
            if idempotent { "true" } else { "false" },
        )
        .set("max.in.flight.requests.per.connection", "5")
        .set("queue.buffering.max.kbytes", BUFFER_KBYTES.to_string())
        .set("queue.buffering.max.messages", "10000000");
    apply_env_overrides(&mut config);
    let ctx = Ctx {
        start: Instant::now(),
        hist: Mutex::new(Histogram::new(3)?),
        acked: AtomicU64::new(0),
        errors: AtomicU64::new(0),
        last_ack_ns: AtomicU64::new(0),
    };
    let start = ctx.start;
    let producer: BaseProducer<Ctx> = config.create_with_context(ctx)?;
    let mut value = vec![0u8; size];
    let mut send_errors = 0u64;
    for i in 0..records {
        fill_value(&mut value, i);
        let sent_ns = start.elapsed().as_nanos() as usize;
        let mut record =
            BaseRecord::<(), [u8], usize>::with_opaque_to(topic, sent_ns).payload(&value);
        loop {
            match producer.send(record) {
                Ok(()) => break,
                Err((KafkaError::MessageProduction(RDKafkaErrorCode::QueueFull), r)) => {
                    // The 32 MiB buffer is full: serve delivery reports until there is room.
                    record = r;
                    producer.poll(Duration::from_millis(1));
                }
                Err((e, _)) => {
                    send_errors += 1;
                    if send_errors <= 5 {
                        eprintln!("e2e-arm-rdkafka: send failed: {e}");
                    }
                    break;
                }
            }
        }
        if i % 1024 == 0 {
            producer.poll(Duration::ZERO);
        }
    }
    let ctx = producer.context();
    let deadline = Instant::now() + STALL;
    while ctx.acked.load(Ordering::Relaxed) + ctx.errors.load(Ordering::Relaxed) + send_errors
        < records
    {
        if Instant::now() > deadline {
            return Err(format!(
                "only {} of {records} records acknowledged after {STALL:?}",
                ctx.acked.load(Ordering::Relaxed)
            )
            .into());
        }
        producer.poll(Duration::from_millis(100));
    }
    let seconds = ctx.last_ack_ns.load(Ordering::Relaxed) as f64 / 1e9;
    let hist = ctx.hist.lock().expect("unpoisoned");
    let acked = ctx.acked.load(Ordering::Relaxed);
    println!(
        "{{\"records\":{acked},\"bytes\":{},\"seconds\":{seconds:.6},\"p50_us\":{},\"p99_us\":{},\"p999_us\":{},\"max_us\":{},\"errors\":{}}}",
        acked * size as u64,
        hist.value_at_quantile(0.5),
        hist.value_at_quantile(0.99),
        hist.value_at_quantile(0.999),
        hist.max(),
        ctx.errors.load(Ordering::Relaxed) + send_errors,
    );
    Ok(())
}

fn consume(o: &Opts) -> Result<(), Error> {
    let topic = o.str("topic")?;
    let records = o.num("records")?;
    let start = Instant::now();
    let mut config = ClientConfig::new();
    config
        .set("bootstrap.servers", o.str("bootstrap")?)
        // Needed by librdkafka for a consumer handle; no group is joined (assign, no commits).
        .set("group.id", "kafkaex-e2e-rdkafka")
        .set("enable.auto.commit", "false")
        .set("enable.auto.offset.store", "false")
        .set("enable.partition.eof", "false")
        .set("auto.offset.reset", "earliest")
        // The one consumer setting off its default. Once a partition's prefetch queue holds
        // queued.min.messages (100000), librdkafka waits fetch.queue.backoff.ms before fetching
        // it again; at the 1000 ms default the queue runs dry long before that, and 2M records
        // took 5-6 s instead of 1.1 s. librdkafka's docs say to lower it in exactly this case.
        .set("fetch.queue.backoff.ms", "10");
    apply_env_overrides(&mut config);
    let consumer: BaseConsumer = config.create()?;
    let metadata = consumer.fetch_metadata(Some(topic), Duration::from_secs(30))?;
    let partitions = metadata
        .topics()
        .first()
        .map(|t| t.partitions().len())
        .unwrap_or(0);
    if partitions == 0 {
        return Err(format!("topic {topic} has no partitions").into());
    }
    let mut tpl = TopicPartitionList::new();
    for p in 0..partitions as i32 {
        tpl.add_partition_offset(topic, p, Offset::Beginning)?;
    }
    consumer.assign(&tpl)?;
    let (mut count, mut bytes, mut checksum, mut errors) = (0u64, 0u64, 0u64, 0u64);
    let mut last = Instant::now();
    while count < records {
        match consumer.poll(Duration::from_millis(100)) {
            Some(Ok(m)) => {
                let value = m.payload().unwrap_or_default();
                count += 1;
                bytes += value.len() as u64;
                checksum = checksum.wrapping_add(u64::from(crc32c::crc32c(value)));
                last = Instant::now();
            }
            Some(Err(e)) => {
                errors += 1;
                if errors <= 5 {
                    eprintln!("e2e-arm-rdkafka: consume error: {e}");
                }
            }
            None if last.elapsed() > STALL => {
                return Err(format!(
                    "read {count} of {records} records, then nothing for {STALL:?}"
                )
                .into());
            }
            None => {}
        }
    }
    let seconds = start.elapsed().as_secs_f64();
    println!(
        "{{\"records\":{count},\"bytes\":{bytes},\"seconds\":{seconds:.6},\"errors\":{errors},\"checksum\":\"{checksum:016x}\"}}"
    );
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn value_follows_the_contract() {
        // The same bytes as the franz-go arm's and the harness's.
        let mut v = [0u8; 30];
        fill_value(&mut v, 1234);
        assert_eq!(&v, b"LCYVBMMFKXGZCFRVKLKZUQIZZEAEIN");
    }
}
