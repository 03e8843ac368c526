//! Owned record decoding is bounded by `DecodeOptions::max_record_memory`, and a raw snappy
//! block by what its size can expand to, measured with a counting allocator (this test binary's
//! own global allocator; the tests take turns, so each measures only itself).
//!
//! The input is the hostile batch an independent run found: a valid zstd batch of 5.8 KB
//! holding 8 987 229 seven-byte records (62.9 MB decompressed, under the 64 MiB cap). Before
//! the limit, `RecordBatch::decode` allocated 2.64 GB for it (a `Record` is far larger than 7
//! bytes); now it is refused before decompressing, while `RecordBatchView` still reads every
//! record within the decompression cap.

// A counting global allocator implements `GlobalAlloc`, which is unsafe to implement; this test
// binary is the only place the crate needs it.
#![allow(unsafe_code)]

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicUsize, Ordering};

use bytes::Bytes;
use kafkaex_protocol::records::compression::{compress, Compression};
use kafkaex_protocol::records::{
    decode_records, DecodeOptions, Record, RecordBatch, RecordBatchView, RecordHeader,
};
use kafkaex_protocol::DecodeError;

/// Counts live bytes and their peak.
struct Counting;

static LIVE: AtomicUsize = AtomicUsize::new(0);
static PEAK: AtomicUsize = AtomicUsize::new(0);

fn grew(by: usize) {
    let now = LIVE.fetch_add(by, Ordering::Relaxed) + by;
    PEAK.fetch_max(now, Ordering::Relaxed);
}

// SAFETY: forwards every call unchanged to `System`; only counts sizes.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        grew(layout.size());
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        LIVE.fetch_sub(layout.size(), Ordering::Relaxed);
        unsafe { System.dealloc(ptr, layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        if new_size >= layout.size() {
            grew(new_size - layout.size());
        } else {
            LIVE.fetch_sub(layout.size() - new_size, Ordering::Relaxed);
        }
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static ALLOCATOR: Counting = Counting;

/// One measurement at a time.
static TURN: std::sync::Mutex<()> = std::sync::Mutex::new(());

/// Peak bytes allocated beyond what was live when `f` started.
fn peak_during<T>(f: impl FnOnce() -> T) -> (T, usize) {
    let base = LIVE.load(Ordering::Relaxed);
    PEAK.store(base, Ordering::Relaxed);
    let out = f();
    (out, PEAK.load(Ordering::Relaxed) - base)
}

/// Offsets in the batch header (see `records::batch`).
const LENGTH_AT: usize = 8;
const CRC_AT: usize = 17;
const ATTRIBUTES_AT: usize = 21;
const COUNT_AT: usize = 57;

const RECORDS: usize = 8_987_229;

/// The hostile batch: `RECORDS` records of 7 bytes (length 6, attributes, timestamp delta,
/// offset delta, null key, null value, no headers), zstd-compressed, with a valid CRC.
fn hostile_batch() -> Bytes {
    let record = [0x0c, 0, 0, 0, 0x01, 0x01, 0];
    let section: Vec<u8> = record.iter().copied().cycle().take(7 * RECORDS).collect();
    let payload = compress(Compression::Zstd, 3, &section).expect("zstd compresses");
    let mut batch = RecordBatch::default().to_bytes().expect("encodes").to_vec();
    batch[COUNT_AT..COUNT_AT + 4].copy_from_slice(&(RECORDS as i32).to_be_bytes());
    batch[ATTRIBUTES_AT..ATTRIBUTES_AT + 2]
        .copy_from_slice(&i16::from(Compression::Zstd.id()).to_be_bytes());
    batch.extend_from_slice(&payload);
    let len = (batch.len() - 12) as i32;
    batch[LENGTH_AT..LENGTH_AT + 4].copy_from_slice(&len.to_be_bytes());
    let crc = crc32c::crc32c(&batch[ATTRIBUTES_AT..]);
    batch[CRC_AT..CRC_AT + 4].copy_from_slice(&crc.to_be_bytes());
    Bytes::from(batch)
}

fn is_memory_limit(e: &DecodeError) -> bool {
    matches!(e.root(), DecodeError::RecordMemoryLimit { records, .. } if *records == RECORDS)
}

#[test]
fn owned_decoding_is_bounded_by_max_record_memory() {
    let _turn = TURN.lock().unwrap_or_else(|e| e.into_inner());
    let input = hostile_batch();
    let opts = DecodeOptions::default();
    assert!(input.len() < 16 << 10, "{} bytes", input.len());

    // Refused before decompressing: nothing near the 64 MiB buffer is allocated.
    let (result, peak) = peak_during(|| RecordBatch::decode(&mut input.clone(), &opts));
    let err = result.expect_err("the records cannot fit");
    assert!(is_memory_limit(&err), "{err}");
    assert!(peak < 1 << 20, "RecordBatch::decode peaked at {peak} bytes");
    println!(
        "RecordBatch::decode of the {}-byte batch: {err} (peak {peak} bytes)",
        input.len()
    );

    let (result, peak) = peak_during(|| decode_records(input.clone(), &opts));
    assert!(is_memory_limit(&result.expect_err("refused")));
    assert!(peak < 1 << 20, "decode_records peaked at {peak} bytes");

    // The view reads every record within the decompression cap.
    let (result, peak) = peak_during(|| {
        let view = RecordBatchView::decode(&mut input.clone(), &opts)?;
        let n = view.records().try_fold(0usize, |n, r| r.map(|_| n + 1))?;
        let owned = view.into_batch();
        Ok::<_, DecodeError>((n, owned))
    });
    let (n, owned) = result.expect("the view reads the batch");
    assert_eq!(n, RECORDS);
    assert!(is_memory_limit(
        &owned.expect_err("into_batch is bounded too")
    ));
    // 95 MB before the decompression buffer stopped growing past the cap.
    assert!(
        peak < opts.max_decompressed_bytes + (1 << 20),
        "the view peaked at {peak} bytes"
    );
    println!("RecordBatchView over it: {n} records, peak {peak} bytes");

    // What owned decoding holds is the decompressed buffer, the codec's state and the records:
    // with a limit that fits them, the peak is the limit and a little (a smaller batch of the
    // same records).
    let small = {
        let mut b = RecordBatch::new(
            (0..10_000)
                .map(|i| Record {
                    offset: i,
                    ..Record::default()
                })
                .collect(),
        );
        b.compression = Compression::Zstd;
        b.to_bytes().expect("encodes")
    };
    let limit = 10_000 * std::mem::size_of::<Record>();
    let fits = DecodeOptions {
        max_record_memory: limit,
        ..opts
    };
    let (result, peak) = peak_during(|| RecordBatch::decode(&mut small.clone(), &fits));
    assert_eq!(result.expect("fits exactly").records.len(), 10_000);
    assert!(
        peak < limit + (3 << 20),
        "peak {peak} for a limit of {limit}"
    );
    let tight = DecodeOptions {
        max_record_memory: limit - 1,
        ..opts
    };
    assert!(matches!(
        RecordBatch::decode(&mut small.clone(), &tight),
        Err(DecodeError::RecordMemoryLimit {
            records: 10_000,
            ..
        })
    ));

    // Header vectors count too: records of few bytes can hold many headers.
    let headers = RecordBatch::new(
        (0..100)
            .map(|i| Record {
                offset: i,
                headers: (0..50).map(|_| RecordHeader::new("", None)).collect(),
                ..Record::default()
            })
            .collect(),
    )
    .to_bytes()
    .expect("encodes");
    let records_only = DecodeOptions {
        max_record_memory: 100 * std::mem::size_of::<Record>() + 1000,
        ..opts
    };
    for decoded in [
        RecordBatch::decode(&mut headers.clone(), &records_only),
        RecordBatchView::decode(&mut headers.clone(), &records_only)
            .and_then(RecordBatchView::into_batch),
    ] {
        assert!(matches!(
            decoded,
            Err(DecodeError::RecordMemoryLimit { records: 100, .. })
        ));
    }
    assert!(RecordBatch::decode(&mut headers.clone(), &opts).is_ok());
}

/// A 7-byte raw snappy block that declares 60 MiB allocated 63 MB before failing (the whole
/// output is allocated from the declared length, and 60 MiB is under the 64 MiB cap). No block
/// expands more than 64 bytes per 3, so it is refused before allocating anything.
#[test]
fn a_tiny_snappy_block_cannot_claim_the_cap() {
    let _turn = TURN.lock().unwrap_or_else(|e| e.into_inner());
    // Varint 60 MiB (4 bytes), then a literal tag, one byte of it, and a stray byte.
    let declared: u32 = 60 << 20;
    let mut block = Vec::new();
    let mut v = declared;
    while v >= 0x80 {
        block.push((v as u8) | 0x80);
        v >>= 7;
    }
    block.push(v as u8);
    block.extend_from_slice(&[0x00, b'a', 0x00]);
    assert_eq!(block.len(), 7);
    let (result, peak) = peak_during(|| {
        kafkaex_protocol::records::compression::decompress(Compression::Snappy, &block, 64 << 20)
    });
    assert!(result.is_err());
    assert!(peak < 4096, "decompressing 7 bytes peaked at {peak} bytes");
    println!(
        "7-byte snappy block declaring 60 MiB: {:?}, peak {peak} bytes",
        result.unwrap_err()
    );
}
