package io.kafkaex.interop;

import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HexFormat;
import java.util.List;
import java.util.Properties;
import java.util.concurrent.Future;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerConfig;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.clients.producer.RecordMetadata;
import org.apache.kafka.common.header.Header;
import org.apache.kafka.common.header.internals.RecordHeader;
import org.apache.kafka.common.serialization.ByteArraySerializer;

/**
 * Produces COUNT records of many shapes to partition 0 of a topic with the official Java
 * producer and one codec, in batches of BATCH records, and prints what it wrote: the reference
 * for a consumer reading the Java client's batches byte for byte.
 *
 * <p>Usage: {@code ProduceCodecs BOOTSTRAP TOPIC CODEC COUNT BATCH}, CODEC none, gzip, snappy,
 * lz4 or zstd. The topic must exist. Record {@code i}:
 *
 * <ul>
 *   <li>key: null when {@code i % 5 == 1}, empty when {@code i % 5 == 2}, else {@code key-i};
 *   <li>value: null when {@code i % 7 == 3}, empty when {@code i % 7 == 4}, 10 000 bytes of a
 *       repeating pattern when {@code i % 11 == 0}, else bytes {@code 0..=(i % 256)};
 *   <li>headers: none when {@code i % 3 == 0}; {@code h=v-i} when {@code i % 3 == 1}; else a
 *       null-valued header, a repeated key with a text and a binary value, and a non-ASCII key;
 *   <li>timestamp (CreateTime): {@code 1700000000000 + 1000 i - 17 (i % 4)}, so not monotonic
 *       within a batch.
 * </ul>
 *
 * Prints one line per record, in offset order: {@code OFFSET TIMESTAMP KEY VALUE
 * [HEADER_KEY=HEADER_VALUE]...}, the timestamp as the broker acknowledged it (the append time
 * for a LogAppendTime topic), KEY, VALUE, header keys (their UTF-8) and header values lowercase
 * hex, null ones {@code null}.
 */
public final class ProduceCodecs {
    private ProduceCodecs() {}

    /** Entry point; see the class comment. */
    public static void main(String[] args) throws Exception {
        if (args.length != 5) {
            System.err.println("usage: ProduceCodecs BOOTSTRAP TOPIC CODEC COUNT BATCH");
            System.exit(2);
        }
        String topic = args[1];
        int count = Integer.parseInt(args[3]);
        int batch = Integer.parseInt(args[4]);
        Properties props = new Properties();
        props.put(ProducerConfig.BOOTSTRAP_SERVERS_CONFIG, args[0]);
        props.put(ProducerConfig.COMPRESSION_TYPE_CONFIG, args[2]);
        props.put(ProducerConfig.ACKS_CONFIG, "all");
        // Batches are cut by flush() only: BATCH records each.
        props.put(ProducerConfig.LINGER_MS_CONFIG, "60000");
        props.put(ProducerConfig.BATCH_SIZE_CONFIG, "4194304");
        props.put(ProducerConfig.MAX_REQUEST_SIZE_CONFIG, "8388608");
        props.put(ProducerConfig.KEY_SERIALIZER_CLASS_CONFIG, ByteArraySerializer.class.getName());
        props.put(ProducerConfig.VALUE_SERIALIZER_CLASS_CONFIG, ByteArraySerializer.class.getName());
        HexFormat hex = HexFormat.of();
        StringBuilder out = new StringBuilder();
        try (KafkaProducer<byte[], byte[]> producer = new KafkaProducer<>(props)) {
            List<ProducerRecord<byte[], byte[]>> records = new ArrayList<>();
            List<Future<RecordMetadata>> sent = new ArrayList<>();
            for (int i = 0; i < count; i++) {
                ProducerRecord<byte[], byte[]> r = record(topic, i);
                records.add(r);
                sent.add(producer.send(r));
                if ((i + 1) % batch == 0) {
                    producer.flush();
                }
            }
            producer.flush();
            for (int i = 0; i < count; i++) {
                ProducerRecord<byte[], byte[]> r = records.get(i);
                RecordMetadata m = sent.get(i).get();
                out.append(m.offset()).append(' ').append(m.timestamp()).append(' ')
                    .append(r.key() == null ? "null" : hex.formatHex(r.key())).append(' ')
                    .append(r.value() == null ? "null" : hex.formatHex(r.value()));
                for (Header h : r.headers()) {
                    out.append(' ').append(hex.formatHex(bytes(h.key()))).append('=')
                        .append(h.value() == null ? "null" : hex.formatHex(h.value()));
                }
                out.append('\n');
            }
        }
        System.out.print(out);
    }

    /** Record {@code i}; see the class comment. */
    static ProducerRecord<byte[], byte[]> record(String topic, int i) {
        byte[] key;
        if (i % 5 == 1) {
            key = null;
        } else if (i % 5 == 2) {
            key = new byte[0];
        } else {
            key = bytes("key-" + i);
        }
        byte[] value;
        if (i % 7 == 3) {
            value = null;
        } else if (i % 7 == 4) {
            value = new byte[0];
        } else if (i % 11 == 0) {
            value = Arrays.copyOf(bytes(("pattern-" + i + "/").repeat(1000)), 10_000);
        } else {
            value = new byte[i % 256 + 1];
            for (int b = 0; b < value.length; b++) {
                value[b] = (byte) b;
            }
        }
        long timestamp = 1_700_000_000_000L + 1000L * i - 17L * (i % 4);
        ProducerRecord<byte[], byte[]> r = new ProducerRecord<>(topic, 0, timestamp, key, value);
        if (i % 3 == 1) {
            r.headers().add(new RecordHeader("h", bytes("v-" + i)));
        } else if (i % 3 == 2) {
            r.headers().add(new RecordHeader("null", (byte[]) null));
            r.headers().add(new RecordHeader("dup", bytes("x" + i)));
            r.headers().add(new RecordHeader("dup", new byte[] {0, (byte) 0xff}));
            r.headers().add(new RecordHeader("ключ", bytes("значение")));
        }
        return r;
    }

    private static byte[] bytes(String s) {
        return s.getBytes(StandardCharsets.UTF_8);
    }
}
