package io.kafkaex.interop;

import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import java.util.concurrent.Future;
import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.AdminClientConfig;
import org.apache.kafka.clients.admin.NewTopic;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerConfig;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.clients.producer.RecordMetadata;
import org.apache.kafka.common.header.internals.RecordHeader;
import org.apache.kafka.common.serialization.ByteArraySerializer;

/**
 * Creates a one-partition topic and produces the golden record set to it with the official Java
 * producer, in a single batch.
 *
 * <p>Usage: {@code Produce BOOTSTRAP TOPIC CODEC [--no-headers] [--create-only]
 * [--config KEY=VALUE]...} where CODEC is none, gzip, snappy, lz4 or zstd and each {@code --config}
 * is a topic config (e.g. {@code message.format.version=0.9.0}). The topic must not exist yet, so
 * that its log holds exactly this batch. {@code --create-only} creates the topic and stops (for
 * another producer, e.g. kcat).
 *
 * <p>The golden record set (partition 0, offsets 0..4, CreateTime), documented in
 * kafkaex-protocol/tests/fixtures/records/README.md:
 *
 * <pre>
 * offset timestamp      key   value      headers
 * 0      1700000000000  "k0"  "value-0"  h=v   (omitted with --no-headers)
 * 1      1700000000001  null  "value-1"
 * 2      1700000000002  "k2"  null
 * 3      1700000000003  "k3"  "value-3"
 * 4      1700000000004  "k4"  "value-4"
 * </pre>
 *
 * Magic 0/1 cannot carry headers (a broker converting to them rejects a record with headers), so
 * legacy topics are produced with {@code --no-headers}.
 *
 * <p>Idempotence is off so the batch has no producer id/epoch/sequence (-1), making the stored
 * bytes independent of broker state.
 */
public final class Produce {
    private Produce() {}

    /** First timestamp of the golden record set; record i has {@code BASE_TIMESTAMP + i}. */
    static final long BASE_TIMESTAMP = 1_700_000_000_000L;

    /** Entry point; see the class comment. */
    public static void main(String[] args) throws Exception {
        if (args.length < 3) {
            System.err.println(
                "usage: Produce BOOTSTRAP TOPIC CODEC [--no-headers] [--config KEY=VALUE]...");
            System.exit(2);
        }
        String bootstrap = args[0];
        String topic = args[1];
        String codec = args[2];
        boolean headers = true;
        boolean createOnly = false;
        Map<String, String> topicConfigs = new HashMap<>();
        for (int i = 3; i < args.length; i++) {
            if (args[i].equals("--no-headers")) {
                headers = false;
            } else if (args[i].equals("--create-only")) {
                createOnly = true;
            } else if (args[i].equals("--config") && i + 1 < args.length) {
                String[] kv = args[++i].split("=", 2);
                if (kv.length != 2) {
                    throw new IllegalArgumentException("--config wants KEY=VALUE, got " + args[i]);
                }
                topicConfigs.put(kv[0], kv[1]);
            } else {
                throw new IllegalArgumentException("unknown argument " + args[i]);
            }
        }

        Properties adminProps = new Properties();
        adminProps.put(AdminClientConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrap);
        try (Admin admin = Admin.create(adminProps)) {
            NewTopic newTopic = new NewTopic(topic, 1, (short) 1).configs(topicConfigs);
            admin.createTopics(List.of(newTopic)).all().get();
        }
        if (createOnly) {
            return;
        }

        Properties props = new Properties();
        props.put(ProducerConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrap);
        props.put(ProducerConfig.COMPRESSION_TYPE_CONFIG, codec);
        props.put(ProducerConfig.ENABLE_IDEMPOTENCE_CONFIG, "false");
        props.put(ProducerConfig.ACKS_CONFIG, "all");
        // Long linger and a big batch so all five records go out as one batch on flush().
        props.put(ProducerConfig.LINGER_MS_CONFIG, "60000");
        props.put(ProducerConfig.BATCH_SIZE_CONFIG, "1048576");
        props.put(ProducerConfig.MAX_IN_FLIGHT_REQUESTS_PER_CONNECTION, "1");
        props.put(ProducerConfig.KEY_SERIALIZER_CLASS_CONFIG, ByteArraySerializer.class.getName());
        props.put(ProducerConfig.VALUE_SERIALIZER_CLASS_CONFIG, ByteArraySerializer.class.getName());
        try (KafkaProducer<byte[], byte[]> producer = new KafkaProducer<>(props)) {
            List<Future<RecordMetadata>> sent = new ArrayList<>();
            for (ProducerRecord<byte[], byte[]> record : goldenRecords(topic, headers)) {
                sent.add(producer.send(record));
            }
            producer.flush();
            for (Future<RecordMetadata> f : sent) {
                RecordMetadata m = f.get();
                System.out.println(topic + " " + codec + " offset=" + m.offset()
                    + " timestamp=" + m.timestamp());
            }
        }
    }

    /** The golden record set; see the class comment. */
    static List<ProducerRecord<byte[], byte[]>> goldenRecords(String topic, boolean headers) {
        List<ProducerRecord<byte[], byte[]>> records = new ArrayList<>();
        for (int i = 0; i < 5; i++) {
            byte[] key = i == 1 ? null : bytes("k" + i);
            byte[] value = i == 2 ? null : bytes("value-" + i);
            ProducerRecord<byte[], byte[]> record =
                new ProducerRecord<>(topic, 0, BASE_TIMESTAMP + i, key, value);
            if (i == 0 && headers) {
                record.headers().add(new RecordHeader("h", bytes("v")));
            }
            records.add(record);
        }
        return records;
    }

    private static byte[] bytes(String s) {
        return s.getBytes(StandardCharsets.UTF_8);
    }
}
