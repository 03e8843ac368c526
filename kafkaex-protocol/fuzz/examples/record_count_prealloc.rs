//! Reproducer: a 2 KiB record batch that makes `RecordBatch::decode` (and so `decode_records`)
//! reserve over a gigabyte in one allocation, with the default `DecodeOptions`.
//!
//! The batch is zstd-compressed 64 MiB of zeros (the default `max_decompressed_bytes`) declaring
//! `64 MiB / 7` records. The count passes the "at least 7 bytes per record" check against the
//! decompressed size, and `Vec::with_capacity(count)` then reserves `count` `Record`s before the
//! first record is parsed (the zeros are not records: decoding fails on record 1). The fuzz
//! targets cannot reach this (they decode under a 256 KiB cap, so at most ~37 000 records), which
//! is why it is checked here.
//!
//! `cargo run --release --manifest-path kafkaex-protocol/fuzz/Cargo.toml --example record_count_prealloc`
//! prints the largest single allocation and exits with 1 while it exceeds `LIMIT`.

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicUsize, Ordering};

use bytes::Bytes;
use kafkaex_protocol::records::compression::{compress, Compression};
use kafkaex_protocol::records::{decode_records, DecodeOptions, RecordBatch, RecordBatchView};

/// The largest single allocation decoding a 2 KiB input may make: the 64 MiB decompression
/// buffer the cap allows, and room to spare.
const LIMIT: usize = 128 << 20;

/// Counts the largest single allocation (a wrapper around the system allocator).
struct Largest;

static LARGEST: AtomicUsize = AtomicUsize::new(0);

// SAFETY: forwards every call unchanged to `System`; only records sizes.
unsafe impl GlobalAlloc for Largest {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        LARGEST.fetch_max(layout.size(), Ordering::Relaxed);
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        unsafe { System.dealloc(ptr, layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        LARGEST.fetch_max(new_size, Ordering::Relaxed);
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static ALLOCATOR: Largest = Largest;

/// Offsets in the batch header (see `records::batch`).
const LENGTH_AT: usize = 8;
const ATTRIBUTES_AT: usize = 21;
const COUNT_AT: usize = 57;
const HEADER_LEN: usize = 61;

fn hostile_batch() -> Bytes {
    let opts = DecodeOptions::default();
    let payload = compress(
        Compression::Zstd,
        2,
        &vec![0u8; opts.max_decompressed_bytes],
    )
    .expect("zstd compresses");
    let mut batch = RecordBatch::default().to_bytes().expect("encodes").to_vec();
    assert_eq!(batch.len(), HEADER_LEN);
    let count = (opts.max_decompressed_bytes / 7) as i32;
    batch[COUNT_AT..COUNT_AT + 4].copy_from_slice(&count.to_be_bytes());
    batch[ATTRIBUTES_AT..ATTRIBUTES_AT + 2]
        .copy_from_slice(&i16::from(Compression::Zstd.id()).to_be_bytes());
    batch.extend_from_slice(&payload);
    let len = (batch.len() - 12) as i32;
    batch[LENGTH_AT..LENGTH_AT + 4].copy_from_slice(&len.to_be_bytes());
    Bytes::from(batch)
}

fn main() {
    let input = hostile_batch();
    // The CRC is left stale: the attacker could as well compute it, so do not let it stop us.
    let opts = DecodeOptions {
        verify_crc: false,
        ..DecodeOptions::default()
    };
    println!(
        "input: {} bytes, size_of::<Record>() = {}",
        input.len(),
        std::mem::size_of::<kafkaex_protocol::records::Record>()
    );
    let mut worst = 0;
    type Decode = fn(Bytes, &DecodeOptions) -> String;
    let decoders: [(&str, Decode); 3] = [
        ("RecordBatch::decode", |b, o| {
            format!(
                "{:?}",
                RecordBatch::decode(&mut b.clone(), o).map(|b| b.records.len())
            )
        }),
        ("decode_records", |b, o| {
            format!("{:?}", decode_records(b, o).map(|s| s.entries.len()))
        }),
        ("RecordBatchView::decode", |b, o| {
            format!(
                "{:?}",
                RecordBatchView::decode(&mut b.clone(), o).map(|v| v.len())
            )
        }),
    ];
    for (name, decode) in decoders {
        LARGEST.store(0, Ordering::Relaxed);
        let result = decode(input.clone(), &opts);
        let largest = LARGEST.load(Ordering::Relaxed);
        println!("{name}: {result}; largest allocation {} MiB", largest >> 20);
        worst = worst.max(largest);
    }
    if worst > LIMIT {
        println!(
            "FAIL: {} MiB in one allocation from a {}-byte input",
            worst >> 20,
            input.len()
        );
        std::process::exit(1);
    }
    println!("ok: no allocation above {} MiB", LIMIT >> 20);
}
