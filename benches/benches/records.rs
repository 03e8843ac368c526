//! Record batch encode/decode: kafkaex against kafka-protocol and the floor, side by side.
//!
//! Groups are `encode/<codec>/<records>` and `decode/<codec>/<records>`; throughput is the
//! uncompressed payload (keys, values, header keys and values) per second. Each group's
//! functions are `kafkaex` (and `kafkaex-builder` for encode, `kafkaex-view` for decode),
//! `kafka-protocol` and `floor`; see the `kafkaex_benches` docs for what each does. Before
//! timing anything, every case is checked to produce equivalent batches in both
//! implementations.

use std::hint::black_box;

use bytes::BytesMut;
use criterion::{criterion_main, BenchmarkId, Criterion, Throughput};
use kafkaex_benches::{
    check_equivalent, decode_floor, decode_kafka_protocol, decode_kafkaex, decode_kafkaex_consumer,
    decode_kafkaex_view, encode_floor, encode_kafka_protocol, encode_kafkaex,
    encode_kafkaex_builder, kafkaex_headers, Payload, CODECS, RECORD_COUNTS,
};

fn records(c: &mut Criterion) {
    for n in RECORD_COUNTS {
        let payload = Payload::new(n);
        for codec in CODECS {
            if let Err(e) = check_equivalent(&payload, codec) {
                panic!("{n} records: {e}");
            }
            let ours_batch = payload.kafkaex_batch(codec);
            let theirs_records = payload.kafka_protocol_records();
            let headers = kafkaex_headers(&payload);
            let bytes = payload.payload_bytes() as u64;

            let mut g = c.benchmark_group(format!("encode/{codec}/{n}"));
            g.throughput(Throughput::Bytes(bytes));
            let mut buf = BytesMut::new();
            g.bench_function("kafkaex", |b| {
                b.iter(|| encode_kafkaex(black_box(&ours_batch), &mut buf))
            });
            g.bench_function("kafkaex-builder", |b| {
                b.iter(|| encode_kafkaex_builder(black_box(&payload), &headers, codec))
            });
            let mut buf = BytesMut::new();
            g.bench_function("kafka-protocol", |b| {
                b.iter(|| encode_kafka_protocol(black_box(&theirs_records), codec, &mut buf))
            });
            let (mut buf, mut compressed) = (BytesMut::new(), BytesMut::new());
            g.bench_function("floor", |b| {
                b.iter(|| encode_floor(black_box(&payload), codec, &mut buf, &mut compressed))
            });
            g.finish();

            // Every decoder reads the same bytes: kafkaex's encoding (uncompressed, identical
            // to kafka-protocol's; compressed, the same codec output for all three).
            let mut encoded = BytesMut::new();
            encode_kafkaex(&ours_batch, &mut encoded);
            let encoded = encoded.freeze();
            let mut g = c.benchmark_group(format!("decode/{codec}/{n}"));
            g.throughput(Throughput::Bytes(bytes));
            g.bench_function("kafkaex", |b| {
                b.iter(|| decode_kafkaex(black_box(&encoded)))
            });
            g.bench_function("kafka-protocol", |b| {
                b.iter(|| decode_kafka_protocol(black_box(&encoded)))
            });
            // The consumer's path: owned records with their topic, partition and epoch.
            g.bench_function("kafkaex-consumer", |b| {
                b.iter(|| decode_kafkaex_consumer(black_box(&encoded)))
            });
            // Not the same work as the two above (nothing is materialized): its own line.
            g.bench_function("kafkaex-view", |b| {
                b.iter(|| decode_kafkaex_view(black_box(&encoded)))
            });
            g.bench_with_input(BenchmarkId::from_parameter("floor"), &encoded, |b, e| {
                b.iter(|| decode_floor(black_box(e)))
            });
            g.finish();
        }
    }
}

/// The benchmark group (what `criterion_group!` would generate, written out so it has docs).
///
/// Slow cases (gzip, 1000 records) take about a millisecond per iteration; fewer samples keep
/// the whole run within a few minutes on two cores.
fn benches() {
    let mut c = Criterion::default().sample_size(30).configure_from_args();
    records(&mut c);
}

criterion_main!(benches);
