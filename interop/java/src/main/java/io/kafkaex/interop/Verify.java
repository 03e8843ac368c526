package io.kafkaex.interop;

import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import org.apache.kafka.common.header.Header;
import org.apache.kafka.common.record.MemoryRecords;
import org.apache.kafka.common.record.MutableRecordBatch;
import org.apache.kafka.common.record.Record;

/**
 * Reads a file holding the bytes of one Kafka "records" field (a concatenation of magic 2 record
 * batches and/or magic 0/1 message sets, exactly what a Fetch returns or a log segment stores),
 * validates every batch and record with kafka-clients, and prints a canonical text dump.
 *
 * <p>Usage: {@code Verify FILE}. Exit status 0 when everything validated, 1 on any exception
 * (bad CRC, bad compression framing, truncated batch, trailing garbage), 2 on bad usage.
 *
 * <p>The dump, one line per batch followed by one line per record (kafkaex-protocol's
 * tests/golden_records.rs renders the records it encoded the same way and compares):
 *
 * <pre>
 * batch magic=2 codec=zstd base_offset=0 last_offset=4 timestamp_type=CreateTime producer_id=-1 producer_epoch=-1 base_sequence=-1 transactional=false control=false
 * record offset=0 timestamp=1700000000000 key="k0" value="value-0" headers=["h"="v"]
 * end batches=1 records=5 bytes=123
 * </pre>
 *
 * Byte strings are printed in double quotes, printable ASCII as is except {@code "} and
 * {@code \} which are escaped with a backslash, every other byte as {@code \xNN} (lower-case
 * hex); a null key, value or header value is printed as {@code null}. For a magic 0/1 compressed
 * wrapper message, "batch" is the wrapper and its records are the inner messages with their
 * absolute offsets, as the Java consumer sees them.
 */
public final class Verify {
    private Verify() {}

    /** Entry point; see the class comment. */
    public static void main(String[] args) {
        if (args.length != 1) {
            System.err.println("usage: Verify FILE");
            System.exit(2);
        }
        try {
            byte[] bytes = Files.readAllBytes(Path.of(args[0]));
            String dump = dump(bytes);
            System.out.print(dump);
            System.out.flush();
        } catch (Throwable e) {
            System.err.println("Verify: " + args[0] + ": " + e);
            e.printStackTrace(System.err);
            System.exit(1);
        }
    }

    /** Validates {@code bytes} and renders the canonical dump; throws on anything invalid. */
    static String dump(byte[] bytes) {
        StringBuilder out = new StringBuilder();
        MemoryRecords records = MemoryRecords.readableRecords(ByteBuffer.wrap(bytes));
        long consumed = 0;
        int batches = 0;
        int recordCount = 0;
        for (MutableRecordBatch batch : records.batches()) {
            batch.ensureValid();
            batches++;
            consumed += batch.sizeInBytes();
            out.append("batch magic=").append(batch.magic())
                .append(" codec=").append(batch.compressionType().name)
                .append(" base_offset=").append(batch.baseOffset())
                .append(" last_offset=").append(batch.lastOffset())
                .append(" timestamp_type=").append(batch.timestampType().name)
                .append(" producer_id=").append(batch.producerId())
                .append(" producer_epoch=").append(batch.producerEpoch())
                .append(" base_sequence=").append(batch.baseSequence())
                .append(" transactional=").append(batch.isTransactional())
                .append(" control=").append(batch.isControlBatch())
                .append('\n');
            for (Record record : batch) {
                // A no-op for magic 2 (the batch CRC covers it); for magic 0/1 inner messages it
                // checks each message's own CRC32.
                record.ensureValid();
                recordCount++;
                out.append("record offset=").append(record.offset())
                    .append(" timestamp=").append(record.timestamp())
                    .append(" key=").append(quote(record.key()))
                    .append(" value=").append(quote(record.value()))
                    .append(" headers=[");
                Header[] headers = record.headers();
                for (int i = 0; i < headers.length; i++) {
                    if (i > 0) {
                        out.append(',');
                    }
                    out.append(quote(headers[i].key().getBytes(StandardCharsets.UTF_8)))
                        .append('=')
                        .append(quote(headers[i].value()));
                }
                out.append("]\n");
            }
        }
        // MemoryRecords silently stops at a partial trailing batch (a Fetch may end in one); a
        // file we wrote must not have one.
        if (consumed != bytes.length) {
            throw new IllegalStateException(
                (bytes.length - consumed) + " trailing bytes after " + batches + " batches ("
                    + consumed + " of " + bytes.length + " bytes)");
        }
        out.append("end batches=").append(batches)
            .append(" records=").append(recordCount)
            .append(" bytes=").append(bytes.length)
            .append('\n');
        return out.toString();
    }

    private static String quote(ByteBuffer buffer) {
        if (buffer == null) {
            return "null";
        }
        byte[] bytes = new byte[buffer.remaining()];
        buffer.duplicate().get(bytes);
        return quote(bytes);
    }

    static String quote(byte[] bytes) {
        if (bytes == null) {
            return "null";
        }
        StringBuilder s = new StringBuilder("\"");
        for (byte b : bytes) {
            int c = b & 0xff;
            if (c == '"' || c == '\\') {
                s.append('\\').append((char) c);
            } else if (c >= 0x20 && c <= 0x7e) {
                s.append((char) c);
            } else {
                s.append(String.format("\\x%02x", c));
            }
        }
        return s.append('"').toString();
    }
}
