//! The kafkaex-client arm of `cargo xtask bench e2e`.
//!
//! Follows the arm contract of `benches/README.md`:
//!
//! ```text
//! kafkaex-e2e-arm produce --bootstrap H:P --topic T --records N --record-size 100 --acks 1|all \
//!     --compression none|lz4 --linger-ms L --batch-bytes B [--idempotent true|false]
//! kafkaex-e2e-arm consume --bootstrap H:P --topic T --records N
//! ```
//!
//! and prints one JSON line on stdout at the end.
//!
//! The producer is `kafkaex_client::Producer` on a multi-threaded tokio runtime: one task sends
//! every record (`send(..).await`, so it waits whenever the 32 MiB buffer is full) and hands each
//! delivery future, with its send time, to one collector task per partition; a partition's
//! records are acknowledged in order, so its collector awaits them in order and records each
//! send -> acknowledgement latency as it resolves.
//!
//! The consumer is a plain Fetch loop through the client's escape hatch (`Client::request`), one
//! request per leader for all its partitions, until kafkaex-client has its consumer.
//! `E2E_KAFKAEX_CONFIG=key=value,...` adds Java-style producer properties, for trying one by
//! hand.

use std::collections::HashMap;
use std::process::ExitCode;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use bytes::Bytes;
use hdrhistogram::Histogram;
use kafkaex_client::consumer::{StartOffset, TopicPartition};
use kafkaex_client::producer::ProducerRecord;
use kafkaex_client::{Client, Config, DeliveryFuture};
use tokio::sync::mpsc;

/// Give up when nothing arrives (consumer) or not every record is acknowledged (producer) for
/// this long.
const STALL: Duration = Duration::from_secs(60);

/// Producer buffer shared by every arm: 32 MiB, Java's `buffer.memory` default.
const BUFFER_BYTES: usize = 32 << 20;

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    // Logs only when asked for (`RUST_LOG=kafkaex_client=debug`), to stderr.
    if std::env::var_os("RUST_LOG").is_some() {
        tracing_subscriber::fmt()
            .with_env_filter(tracing_subscriber::EnvFilter::from_default_env())
            .with_writer(std::io::stderr)
            .init();
    }
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("kafkaex-e2e-arm: no runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    let result = runtime.block_on(async {
        match args.first().map(String::as_str) {
            Some("produce") => match Opts::parse(&args[1..]) {
                Ok(o) => produce(&o).await,
                Err(e) => Err(e),
            },
            Some("consume") => match Opts::parse(&args[1..]) {
                Ok(o) => consume(&o).await,
                Err(e) => Err(e),
            },
            _ => Err(
                "usage: kafkaex-e2e-arm produce|consume --bootstrap H:P --topic T --records N ..."
                    .into(),
            ),
        }
    });
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("kafkaex-e2e-arm: {e}");
            ExitCode::FAILURE
        }
    }
}

type Error = Box<dyn std::error::Error + Send + Sync>;

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

/// Writes the contract's value of record `index` (benches/README.md): letters `A..Z` drawn from
/// splitmix64 seeded with the index, one per byte of its output, little-endian.
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

/// The producer's settings: the contract's, then any `E2E_KAFKAEX_CONFIG` overrides.
fn producer_config(o: &Opts) -> Result<Config, Error> {
    let acks = o.str("acks")?;
    let idempotent = match o.0.get("idempotent") {
        Some(v) => v == "true",
        None => acks == "all",
    };
    let mut pairs: Vec<(String, String)> = vec![
        ("bootstrap.servers".into(), o.str("bootstrap")?.into()),
        ("client.id".into(), "kafkaex-e2e-arm".into()),
        ("acks".into(), acks.into()),
        ("compression.type".into(), o.str("compression")?.into()),
        ("linger.ms".into(), o.str("linger-ms")?.into()),
        ("batch.size".into(), o.str("batch-bytes")?.into()),
        ("enable.idempotence".into(), idempotent.to_string()),
        ("max.in.flight.requests.per.connection".into(), "5".into()),
        ("buffer.memory".into(), BUFFER_BYTES.to_string()),
    ];
    if let Ok(extra) = std::env::var("E2E_KAFKAEX_CONFIG") {
        for kv in extra.split(',').filter(|kv| !kv.is_empty()) {
            if let Some((k, v)) = kv.split_once('=') {
                eprintln!("kafkaex-e2e-arm: {k}={v} (E2E_KAFKAEX_CONFIG)");
                pairs.push((k.into(), v.into()));
            }
        }
    }
    Ok(Config::from_pairs(pairs)?)
}

/// What the collectors share.
struct Acks {
    hist: Mutex<Histogram<u64>>,
    acked: AtomicU64,
    errors: AtomicU64,
    last_ack_ns: AtomicU64,
}

async fn produce(o: &Opts) -> Result<(), Error> {
    let topic: Arc<str> = o.str("topic")?.into();
    let records = o.num("records")?;
    let size = o.num("record-size")? as usize;
    let config = producer_config(o)?;
    let start = Instant::now();
    let client = Client::from_config(&config).await?;
    let producer = client
        .producer()
        .config(config.producer.clone())
        .build()
        .await?;
    let partitions = client
        .refresh_metadata(&[topic.as_ref()])
        .await?
        .topic(&topic)
        .map(|t| t.partition_count())
        .unwrap_or(0);
    if partitions == 0 {
        return Err(format!("topic {topic} has no partitions").into());
    }
    let acks = Arc::new(Acks {
        hist: Mutex::new(Histogram::new(3)?),
        acked: AtomicU64::new(0),
        errors: AtomicU64::new(0),
        last_ack_ns: AtomicU64::new(0),
    });
    // One collector per partition; the channels hold at most what the buffer does, in records.
    let capacity = BUFFER_BYTES / size.max(1) + 1;
    let mut senders = Vec::with_capacity(partitions);
    let mut collectors = Vec::with_capacity(partitions);
    for _ in 0..partitions {
        let (tx, rx) = mpsc::channel::<(u64, DeliveryFuture)>(capacity);
        senders.push(tx);
        collectors.push(tokio::spawn(collect(rx, Arc::clone(&acks), start)));
    }
    let mut value = vec![0u8; size];
    let mut send_errors = 0u64;
    for i in 0..records {
        fill_value(&mut value, i);
        let sent_ns = start.elapsed().as_nanos() as u64;
        let record = ProducerRecord::new(Arc::clone(&topic)).value(Bytes::copy_from_slice(&value));
        match producer.send(record).await {
            Ok(delivery) => {
                let p = delivery.partition() as usize;
                if senders[p].send((sent_ns, delivery)).await.is_err() {
                    return Err("a collector ended early".into());
                }
            }
            Err(e) => {
                send_errors += 1;
                if send_errors <= 5 {
                    eprintln!("kafkaex-e2e-arm: send failed: {e}");
                }
            }
        }
    }
    drop(senders);
    let wait = async {
        for c in collectors {
            let _ = c.await;
        }
    };
    if tokio::time::timeout(STALL, wait).await.is_err() {
        return Err(format!(
            "only {} of {records} records acknowledged after {STALL:?}",
            acks.acked.load(Ordering::Relaxed)
        )
        .into());
    }
    let metrics = producer.metrics();
    producer.close().await;
    eprintln!("kafkaex-e2e-arm: {metrics:?}");
    let seconds = acks.last_ack_ns.load(Ordering::Relaxed) as f64 / 1e9;
    let hist = acks.hist.lock().map_err(|_| "poisoned")?;
    let acked = acks.acked.load(Ordering::Relaxed);
    println!(
        "{{\"records\":{acked},\"bytes\":{},\"seconds\":{seconds:.6},\"p50_us\":{},\"p99_us\":{},\"p999_us\":{},\"max_us\":{},\"errors\":{}}}",
        acked * size as u64,
        hist.value_at_quantile(0.5),
        hist.value_at_quantile(0.99),
        hist.value_at_quantile(0.999),
        hist.max(),
        acks.errors.load(Ordering::Relaxed) + send_errors,
    );
    Ok(())
}

/// Awaits one partition's deliveries in order, recording each latency.
async fn collect(mut rx: mpsc::Receiver<(u64, DeliveryFuture)>, acks: Arc<Acks>, start: Instant) {
    let mut local = Histogram::<u64>::new(3).expect("3 significant digits is valid");
    let mut acked = 0u64;
    while let Some((sent_ns, delivery)) = rx.recv().await {
        let result = delivery.await;
        let now = start.elapsed().as_nanos() as u64;
        match result {
            Ok(_) => {
                let _ = local.record((now.saturating_sub(sent_ns) / 1000).max(1));
                acked += 1;
            }
            Err(e) => {
                if acks.errors.fetch_add(1, Ordering::Relaxed) < 5 {
                    eprintln!("kafkaex-e2e-arm: delivery failed: {e}");
                }
            }
        }
        acks.last_ack_ns.fetch_max(now, Ordering::Relaxed);
    }
    acks.acked.fetch_add(acked, Ordering::Relaxed);
    if let Ok(mut hist) = acks.hist.lock() {
        let _ = hist.add(&local);
    }
}

async fn consume(o: &Opts) -> Result<(), Error> {
    let topic = o.str("topic")?.to_owned();
    let records = o.num("records")?;
    let start = Instant::now();
    let client = Client::builder()
        .bootstrap([o.str("bootstrap")?])
        .client_id("kafkaex-e2e-arm")
        .build()
        .await?;
    let metadata = client.refresh_metadata(&[topic.as_str()]).await?;
    let Some(t) = metadata.topic(&topic) else {
        return Err(format!("topic {topic} is not in the metadata").into());
    };
    let partitions = t.partition_count() as i32;
    // The consumer with its defaults (Java's: 1 MiB per partition, 50 MiB per fetch).
    let mut consumer = client.consumer().build()?;
    consumer.assign(
        (0..partitions).map(|p| (TopicPartition::new(topic.clone(), p), StartOffset::Earliest)),
    )?;
    let (mut count, mut bytes, mut checksum) = (0u64, 0u64, 0u64);
    while count < records {
        let batch = match tokio::time::timeout(STALL, consumer.next_batch()).await {
            Ok(Some(batch)) => batch?,
            Ok(None) => return Err("the consumer closed".into()),
            Err(_) => return Err(format!("nothing consumed for {STALL:?} at {count}").into()),
        };
        for record in &batch {
            let value = record.value.as_deref().unwrap_or_default();
            bytes += value.len() as u64;
            checksum = checksum.wrapping_add(u64::from(crc32c::crc32c(value)));
        }
        count += batch.len() as u64;
    }
    let seconds = start.elapsed().as_secs_f64();
    println!(
        "{{\"records\":{count},\"bytes\":{bytes},\"seconds\":{seconds:.6},\"errors\":0,\"checksum\":\"{checksum:016x}\"}}"
    );
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn value_follows_the_contract() {
        let mut v = [0u8; 30];
        fill_value(&mut v, 1234);
        assert_eq!(&v, b"LCYVBMMFKXGZCFRVKLKZUQIZZEAEIN");
    }
}
