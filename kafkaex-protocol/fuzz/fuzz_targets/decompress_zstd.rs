//! zstd decompression of untrusted input under a cap: never panics, never returns more than the
//! cap, and agrees with itself across caps (see `check_decompress`).
#![no_main]

use kafkaex_protocol::records::compression::Compression;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    kafkaex_protocol_fuzz::check_decompress(Compression::Zstd, data);
});
