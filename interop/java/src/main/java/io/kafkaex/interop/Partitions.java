package io.kafkaex.interop;

import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.Properties;
import java.util.concurrent.Future;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerConfig;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.clients.producer.RecordMetadata;
import org.apache.kafka.common.serialization.ByteArraySerializer;

/**
 * Produces one record per key with the Java producer's default partitioner and prints where each
 * landed: the reference for where a keyed record goes.
 *
 * <p>Usage: {@code Partitions BOOTSTRAP TOPIC KEY...}. The topic must exist. Prints one line per
 * key, in argument order: {@code KEY PARTITION}.
 */
public final class Partitions {
    private Partitions() {}

    /** Entry point; see the class comment. */
    public static void main(String[] args) throws Exception {
        if (args.length < 3) {
            System.err.println("usage: Partitions BOOTSTRAP TOPIC KEY...");
            System.exit(2);
        }
        Properties props = new Properties();
        props.put(ProducerConfig.BOOTSTRAP_SERVERS_CONFIG, args[0]);
        props.put(ProducerConfig.KEY_SERIALIZER_CLASS_CONFIG, ByteArraySerializer.class.getName());
        props.put(ProducerConfig.VALUE_SERIALIZER_CLASS_CONFIG, ByteArraySerializer.class.getName());
        try (KafkaProducer<byte[], byte[]> producer = new KafkaProducer<>(props)) {
            List<Future<RecordMetadata>> sent = new ArrayList<>();
            for (int i = 2; i < args.length; i++) {
                byte[] key = args[i].getBytes(StandardCharsets.UTF_8);
                sent.add(producer.send(new ProducerRecord<>(args[1], key, key)));
            }
            for (int i = 2; i < args.length; i++) {
                System.out.println(args[i] + " " + sent.get(i - 2).get().partition());
            }
        }
    }
}
