package io.kafkaex.interop;

import java.time.Duration;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.HexFormat;
import java.util.List;
import java.util.Properties;
import org.apache.kafka.clients.consumer.ConsumerConfig;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.common.PartitionInfo;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.header.Header;
import org.apache.kafka.common.serialization.ByteArrayDeserializer;

/**
 * Reads a topic with the Java consumer (every partition assigned from the start, no group) and
 * prints every record canonically, for comparing with what another client wrote.
 *
 * <p>Usage: {@code Consume BOOTSTRAP TOPIC COUNT}: reads until COUNT records (fails after 60 s
 * without them), then prints one line per record sorted by partition and offset:
 *
 * <pre>
 * PARTITION OFFSET TIMESTAMP_TYPE TIMESTAMP KEY VALUE [HEADER_KEY=HEADER_VALUE]...
 * </pre>
 *
 * where KEY, VALUE and header values are lowercase hex, or {@code null}; header keys are
 * printed as they are.
 */
public final class Consume {
    private Consume() {}

    /** Entry point; see the class comment. */
    public static void main(String[] args) throws Exception {
        if (args.length != 3) {
            System.err.println("usage: Consume BOOTSTRAP TOPIC COUNT");
            System.exit(2);
        }
        String topic = args[1];
        int count = Integer.parseInt(args[2]);
        Properties props = new Properties();
        props.put(ConsumerConfig.BOOTSTRAP_SERVERS_CONFIG, args[0]);
        props.put(ConsumerConfig.KEY_DESERIALIZER_CLASS_CONFIG, ByteArrayDeserializer.class.getName());
        props.put(
            ConsumerConfig.VALUE_DESERIALIZER_CLASS_CONFIG, ByteArrayDeserializer.class.getName());
        props.put(ConsumerConfig.ENABLE_AUTO_COMMIT_CONFIG, "false");
        props.put(ConsumerConfig.CHECK_CRCS_CONFIG, "true");
        List<ConsumerRecord<byte[], byte[]>> records = new ArrayList<>();
        try (KafkaConsumer<byte[], byte[]> consumer = new KafkaConsumer<>(props)) {
            List<TopicPartition> partitions = new ArrayList<>();
            for (PartitionInfo p : consumer.partitionsFor(topic, Duration.ofSeconds(30))) {
                partitions.add(new TopicPartition(topic, p.partition()));
            }
            consumer.assign(partitions);
            consumer.seekToBeginning(partitions);
            long giveUp = System.nanoTime() + Duration.ofSeconds(60).toNanos();
            while (records.size() < count) {
                if (System.nanoTime() > giveUp) {
                    System.err.println("read " + records.size() + " of " + count + " records in 60 s");
                    System.exit(1);
                }
                for (ConsumerRecord<byte[], byte[]> r : consumer.poll(Duration.ofMillis(200))) {
                    records.add(r);
                }
            }
        }
        records.sort(
            Comparator.comparingInt((ConsumerRecord<byte[], byte[]> r) -> r.partition())
                .thenComparingLong(ConsumerRecord::offset));
        HexFormat hex = HexFormat.of();
        StringBuilder out = new StringBuilder();
        for (ConsumerRecord<byte[], byte[]> r : records) {
            out.append(r.partition()).append(' ').append(r.offset()).append(' ')
                .append(r.timestampType().name).append(' ').append(r.timestamp()).append(' ')
                .append(r.key() == null ? "null" : hex.formatHex(r.key())).append(' ')
                .append(r.value() == null ? "null" : hex.formatHex(r.value()));
            for (Header h : r.headers()) {
                out.append(' ').append(h.key()).append('=')
                    .append(h.value() == null ? "null" : hex.formatHex(h.value()));
            }
            out.append('\n');
        }
        System.out.print(out);
    }
}
