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
 * Writes a known mix of committed and aborted transactions, with plain records between and
 * inside them, to partition 0 of a topic with the official Java producer: the reference log
 * for a consumer's {@code read_committed} and {@code read_uncommitted}.
 *
 * <p>Usage: {@code Transactions BOOTSTRAP TOPIC ROUNDS PER_TXN [PRODUCERS [--leave-open]]}. The
 * topic must exist. PRODUCERS (1 or 2, default 1) transactional producers (transactional ids
 * {@code TOPIC-txn-P}) run one transaction each per round, at the same time; one plain producer
 * (idempotent, not transactional) writes between them. Round {@code i}, in log order:
 *
 * <ol>
 *   <li>(rounds after the first) {@code plain-N};
 *   <li>every transactional producer begins; each writes the first half of its PER_TXN records
 *       {@code txn-P-i-J} as one batch, producer after producer;
 *   <li>{@code plain-N}, while the transactions are open;
 *   <li>each writes the rest of its records as one batch, producer after producer;
 *   <li>each ends its transaction, producer after producer: producer P commits when
 *       {@code i + P} is even and aborts otherwise (so one producer alone commits rounds 0, 2,
 *       4... and aborts the others; two producers always do one of each).
 * </ol>
 *
 * N counts the plain records from 0. Nothing is written after the last round's markers, so the
 * log ends with them.
 *
 * <p>With {@code --leave-open}, one more transactional producer ({@code TOPIC-txn-open},
 * transaction timeout 6 s) then begins a transaction and writes PER_TXN records
 * {@code txn-open-J} as one batch, the plain producer writes {@code plain-N} after them, and the
 * process halts without ending the transaction (a producer closing would abort it): the
 * partition's last stable offset stays at the open transaction's first offset until the
 * coordinator aborts it on timeout.
 *
 * <p>Every record's key is {@code k-} followed by its value. Prints one line per data record, in
 * offset order: {@code KIND OFFSET VALUE}, where KIND is {@code committed}, {@code aborted},
 * {@code plain} or {@code open}; control records (the markers) are in the gaps between the
 * offsets printed.
 */
public final class Transactions {
    private Transactions() {}

    /** Entry point; see the class comment. */
    public static void main(String[] args) throws Exception {
        if (args.length < 4 || args.length > 6) {
            System.err.println(
                "usage: Transactions BOOTSTRAP TOPIC ROUNDS PER_TXN [PRODUCERS [--leave-open]]");
            System.exit(2);
        }
        String bootstrap = args[0];
        String topic = args[1];
        int rounds = Integer.parseInt(args[2]);
        int perTxn = Integer.parseInt(args[3]);
        int producers = args.length >= 5 ? Integer.parseInt(args[4]) : 1;
        if (rounds < 1 || perTxn < 2 || producers < 1 || producers > 2) {
            throw new IllegalArgumentException("ROUNDS >= 1, PER_TXN >= 2, PRODUCERS 1 or 2");
        }
        boolean leaveOpen = false;
        if (args.length == 6) {
            if (!args[5].equals("--leave-open")) {
                throw new IllegalArgumentException("unknown argument " + args[5]);
            }
            leaveOpen = true;
        }

        List<KafkaProducer<byte[], byte[]>> txns = new ArrayList<>();
        KafkaProducer<byte[], byte[]> plain = new KafkaProducer<>(props(bootstrap, null));
        try {
            for (int p = 0; p < producers; p++) {
                KafkaProducer<byte[], byte[]> producer =
                    new KafkaProducer<>(props(bootstrap, topic + "-txn-" + p));
                txns.add(producer);
                producer.initTransactions();
            }
            List<String> out = new ArrayList<>();
            int plainCount = 0;
            for (int i = 0; i < rounds; i++) {
                if (i > 0) {
                    String value = "plain-" + plainCount++;
                    out.add("plain " + send(plain, topic, value) + " " + value);
                }
                for (KafkaProducer<byte[], byte[]> producer : txns) {
                    producer.beginTransaction();
                }
                List<List<Future<RecordMetadata>>> sent = new ArrayList<>();
                List<List<String>> values = new ArrayList<>();
                for (int p = 0; p < producers; p++) {
                    sent.add(new ArrayList<>());
                    values.add(new ArrayList<>());
                }
                // The first halves, one batch per producer, in producer order.
                for (int p = 0; p < producers; p++) {
                    halfBatch(txns.get(p), topic, p, i, 0, perTxn / 2, sent.get(p), values.get(p));
                }
                Future<RecordMetadata> inside = plain.send(record(topic, "plain-" + plainCount));
                plain.flush();
                String insideValue = "plain-" + plainCount++;
                // The second halves.
                for (int p = 0; p < producers; p++) {
                    halfBatch(
                        txns.get(p), topic, p, i, perTxn / 2, perTxn, sent.get(p), values.get(p));
                }
                for (int p = 0; p < producers; p++) {
                    if ((i + p) % 2 == 0) {
                        txns.get(p).commitTransaction();
                    } else {
                        txns.get(p).abortTransaction();
                    }
                }
                // Lines in offset order (all of this round's offsets are known by now).
                List<long[]> order = new ArrayList<>();
                List<String> lines = new ArrayList<>();
                for (int p = 0; p < producers; p++) {
                    String kind = (i + p) % 2 == 0 ? "committed" : "aborted";
                    for (int j = 0; j < perTxn; j++) {
                        long offset = sent.get(p).get(j).get().offset();
                        order.add(new long[] {offset, lines.size()});
                        lines.add(kind + " " + offset + " " + values.get(p).get(j));
                    }
                }
                long insideOffset = inside.get().offset();
                order.add(new long[] {insideOffset, lines.size()});
                lines.add("plain " + insideOffset + " " + insideValue);
                order.sort((a, b) -> Long.compare(a[0], b[0]));
                for (long[] o : order) {
                    out.add(lines.get((int) o[1]));
                }
            }
            if (leaveOpen) {
                // A transaction left open: the process stops dead, so no producer aborts it on
                // close; the coordinator aborts it after its timeout.
                Properties openProps = props(bootstrap, topic + "-txn-open");
                openProps.put(ProducerConfig.TRANSACTION_TIMEOUT_CONFIG, "6000");
                KafkaProducer<byte[], byte[]> open = new KafkaProducer<>(openProps);
                open.initTransactions();
                open.beginTransaction();
                List<Future<RecordMetadata>> sent = new ArrayList<>();
                for (int j = 0; j < perTxn; j++) {
                    sent.add(open.send(record(topic, "txn-open-" + j)));
                }
                open.flush();
                String value = "plain-" + plainCount++;
                long after = send(plain, topic, value);
                for (int j = 0; j < perTxn; j++) {
                    out.add("open " + sent.get(j).get().offset() + " txn-open-" + j);
                }
                out.add("plain " + after + " " + value);
                for (String l : out) {
                    System.out.println(l);
                }
                System.out.flush();
                Runtime.getRuntime().halt(0);
            }
            for (String l : out) {
                System.out.println(l);
            }
        } finally {
            for (KafkaProducer<byte[], byte[]> producer : txns) {
                producer.close();
            }
            plain.close();
        }
    }

    /** Records {@code from..to} of producer P's transaction in round I, sent as one batch. */
    private static void halfBatch(
            KafkaProducer<byte[], byte[]> producer,
            String topic,
            int p,
            int i,
            int from,
            int to,
            List<Future<RecordMetadata>> sent,
            List<String> values) {
        for (int j = from; j < to; j++) {
            String value = "txn-" + p + "-" + i + "-" + j;
            values.add(value);
            sent.add(producer.send(record(topic, value)));
        }
        producer.flush();
    }

    private static Properties props(String bootstrap, String transactionalId) {
        Properties props = new Properties();
        props.put(ProducerConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrap);
        props.put(ProducerConfig.ACKS_CONFIG, "all");
        props.put(ProducerConfig.ENABLE_IDEMPOTENCE_CONFIG, "true");
        // Batches are cut by flush() only, so each half transaction is one batch.
        props.put(ProducerConfig.LINGER_MS_CONFIG, "60000");
        props.put(ProducerConfig.BATCH_SIZE_CONFIG, "1048576");
        props.put(ProducerConfig.KEY_SERIALIZER_CLASS_CONFIG, ByteArraySerializer.class.getName());
        props.put(ProducerConfig.VALUE_SERIALIZER_CLASS_CONFIG, ByteArraySerializer.class.getName());
        if (transactionalId != null) {
            props.put(ProducerConfig.TRANSACTIONAL_ID_CONFIG, transactionalId);
        }
        return props;
    }

    private static ProducerRecord<byte[], byte[]> record(String topic, String value) {
        return new ProducerRecord<>(topic, 0, bytes("k-" + value), bytes(value));
    }

    /** Sends one record and waits for its offset. */
    private static long send(KafkaProducer<byte[], byte[]> producer, String topic, String value)
            throws Exception {
        Future<RecordMetadata> f = producer.send(record(topic, value));
        producer.flush();
        return f.get().offset();
    }

    private static byte[] bytes(String s) {
        return s.getBytes(StandardCharsets.UTF_8);
    }
}
