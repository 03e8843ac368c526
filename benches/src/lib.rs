//! Criterion benchmarks for kafkaex-rs; see `benches/`.
