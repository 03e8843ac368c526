//! Runs one record batch encode or decode function a given number of times, for counting its
//! instructions under valgrind's callgrind (`cargo xtask bench-instructions`, which runs this
//! at two iteration counts and takes the difference, so setup and warm-up cancel out).
//!
//! Usage: `instructions encode|decode CODEC RECORDS kafkaex|kafka-protocol|floor|kafkaex-view ITERATIONS`
//!
//! The inputs are those of the criterion benchmarks (`benches/records.rs`), checked equivalent
//! the same way first.

use std::hint::black_box;

use bytes::BytesMut;
use kafkaex_benches::{
    check_equivalent, decode_floor, decode_kafka_protocol, decode_kafkaex, decode_kafkaex_view,
    encode_floor, encode_kafka_protocol, encode_kafkaex, Payload, CODECS,
};

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [direction, codec, records, implementation, iterations] = args.as_slice() else {
        eprintln!(
            "usage: instructions encode|decode CODEC RECORDS kafkaex|kafka-protocol|floor|kafkaex-view ITERATIONS"
        );
        std::process::exit(2);
    };
    let codec = CODECS
        .into_iter()
        .find(|c| c.name() == codec)
        .unwrap_or_else(|| panic!("unknown codec {codec}"));
    let n: usize = records.parse().expect("RECORDS is a number");
    let iterations: usize = iterations.parse().expect("ITERATIONS is a number");
    let payload = Payload::new(n);
    check_equivalent(&payload, codec).expect("the implementations agree");
    let batch = payload.kafkaex_batch(codec);
    match (direction.as_str(), implementation.as_str()) {
        ("encode", "kafkaex") => {
            let mut buf = BytesMut::new();
            for _ in 0..iterations {
                encode_kafkaex(black_box(&batch), &mut buf);
            }
        }
        ("encode", "kafka-protocol") => {
            let records = payload.kafka_protocol_records();
            let mut buf = BytesMut::new();
            for _ in 0..iterations {
                encode_kafka_protocol(black_box(&records), codec, &mut buf);
            }
        }
        ("encode", "floor") => {
            let (mut buf, mut compressed) = (BytesMut::new(), BytesMut::new());
            for _ in 0..iterations {
                black_box(encode_floor(
                    black_box(&payload),
                    codec,
                    &mut buf,
                    &mut compressed,
                ));
            }
        }
        ("decode", which) => {
            let mut encoded = BytesMut::new();
            encode_kafkaex(&batch, &mut encoded);
            let encoded = encoded.freeze();
            for _ in 0..iterations {
                match which {
                    "kafkaex" => drop(black_box(decode_kafkaex(black_box(&encoded)))),
                    "kafka-protocol" => drop(black_box(decode_kafka_protocol(black_box(&encoded)))),
                    "kafkaex-view" => {
                        black_box(decode_kafkaex_view(black_box(&encoded)));
                    }
                    "floor" => {
                        black_box(decode_floor(black_box(&encoded)));
                    }
                    other => panic!("unknown implementation {other}"),
                }
            }
        }
        (d, i) => panic!("unknown case {d} {i}"),
    }
}
