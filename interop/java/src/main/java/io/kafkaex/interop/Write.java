package io.kafkaex.interop;

import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.compress.Compression;
import org.apache.kafka.common.record.CompressionType;
import org.apache.kafka.common.record.MemoryRecords;
import org.apache.kafka.common.record.MemoryRecordsBuilder;
import org.apache.kafka.common.record.RecordBatch;
import org.apache.kafka.common.record.TimestampType;

/**
 * Writes the golden record set (see {@link Produce}) as one batch with kafka-clients'
 * {@code MemoryRecordsBuilder}, the encoder the Java producer uses, without a broker.
 *
 * <p>Usage: {@code Write MAGIC CODEC OUT}. Base offset 0, CreateTime; for magic 0 and 1 the
 * header is left out (those formats have none) and for magic 0 the timestamps too.
 *
 * <p>Used to check Verify and our decoder against Java-encoded bytes when no broker is at hand;
 * the committed fixtures come from brokers (see the fixtures README).
 */
public final class Write {
    private Write() {}

    /** Entry point; see the class comment. */
    public static void main(String[] args) throws Exception {
        if (args.length != 3) {
            System.err.println("usage: Write MAGIC CODEC OUT");
            System.exit(2);
        }
        byte magic = Byte.parseByte(args[0]);
        CompressionType codec = CompressionType.forName(args[1]);
        Path out = Path.of(args[2]);
        TimestampType timestampType =
            magic == RecordBatch.MAGIC_VALUE_V0 ? TimestampType.NO_TIMESTAMP_TYPE
                : TimestampType.CREATE_TIME;
        MemoryRecordsBuilder builder = MemoryRecords.builder(ByteBuffer.allocate(1024), magic,
            Compression.of(codec).build(), timestampType, 0L);
        long offset = 0;
        for (ProducerRecord<byte[], byte[]> r : Produce.goldenRecords("t", magic >= 2)) {
            long timestamp = magic == RecordBatch.MAGIC_VALUE_V0 ? RecordBatch.NO_TIMESTAMP
                : r.timestamp();
            builder.appendWithOffset(offset++, timestamp, r.key(), r.value(),
                r.headers().toArray());
        }
        ByteBuffer buffer = builder.build().buffer();
        byte[] bytes = new byte[buffer.remaining()];
        buffer.get(bytes);
        Files.write(out, bytes);
    }
}
