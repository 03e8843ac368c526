package io.kafkaex.interop;

import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collection;
import java.util.Comparator;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import java.util.TreeMap;
import java.util.concurrent.atomic.AtomicBoolean;
import org.apache.kafka.clients.consumer.CommitFailedException;
import org.apache.kafka.clients.consumer.ConsumerConfig;
import org.apache.kafka.clients.consumer.ConsumerGroupMetadata;
import org.apache.kafka.clients.consumer.ConsumerPartitionAssignor;
import org.apache.kafka.clients.consumer.ConsumerRebalanceListener;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.ConsumerRecords;
import org.apache.kafka.clients.consumer.CooperativeStickyAssignor;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.clients.consumer.OffsetAndMetadata;
import org.apache.kafka.clients.consumer.RangeAssignor;
import org.apache.kafka.clients.consumer.RoundRobinAssignor;
import org.apache.kafka.common.Cluster;
import org.apache.kafka.common.KafkaException;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.serialization.ByteArrayDeserializer;

/**
 * One member of a consumer group, with the Java consumer (kafka-clients, the classic group
 * protocol), for sharing a group with another client's members: it subscribes to a topic, and
 * reports what the group gives it and what it reads, until told to stop.
 *
 * <p>Usage: {@code GroupMember BOOTSTRAP GROUP TOPIC STRATEGY}, STRATEGY one of {@code range},
 * {@code roundrobin}, {@code cooperative-sticky} (Java's {@code RangeAssignor},
 * {@code RoundRobinAssignor}, {@code CooperativeStickyAssignor}, each wrapped only to report
 * when this member is the leader). Session timeout 10 s, heartbeat 500 ms, max poll interval
 * 30 s, {@code auto.offset.reset=earliest}, no auto-commit: after every poll the positions of
 * the assigned partitions are committed synchronously ({@code commitSync}).
 *
 * <p>It stops when its standard input has a line {@code stop} or ends (so that it does not
 * outlive the process that started it): it commits, closes (LeaveGroup), prints
 * {@code CLOSED} and exits 0. Each line of its standard output, flushed as it is written:
 *
 * <pre>
 * MEMBER MEMBER_ID GENERATION           the group metadata changed (after a rebalance)
 * LEADER GENERATION                     this member ran the assignor (it is the leader)
 * PLAN MEMBER_ID TOPIC-P,...            one per member, after LEADER: what it assigned
 * ASSIGNED TOPIC-P,...                  onPartitionsAssigned (eager: everything; cooperative:
 *                                       what was added; possibly empty)
 * REVOKED TOPIC-P,...                   onPartitionsRevoked (eager: everything; cooperative:
 *                                       what is taken away)
 * LOST TOPIC-P,...                      onPartitionsLost
 * RECORD PARTITION OFFSET               each record, in the order polled
 * COMMITTED TOPIC-P=OFFSET,...          after a commitSync that committed something new
 * COMMIT_FAILED MESSAGE                 a commitSync the group refused (a rebalance)
 * CLOSED                                closed after stop
 * </pre>
 *
 * Partitions are sorted by topic and partition in each line.
 */
public final class GroupMember {
    private GroupMember() {}

    private static final Object OUT = new Object();

    private static void say(String line) {
        synchronized (OUT) {
            System.out.println(line);
            System.out.flush();
        }
    }

    private static String partitions(Collection<TopicPartition> tps) {
        List<TopicPartition> sorted = new ArrayList<>(tps);
        sorted.sort(
            Comparator.comparing(TopicPartition::topic).thenComparingInt(TopicPartition::partition));
        StringBuilder s = new StringBuilder();
        for (TopicPartition tp : sorted) {
            if (s.length() > 0) {
                s.append(',');
            }
            s.append(tp.topic()).append('-').append(tp.partition());
        }
        return s.toString();
    }

    private static String line(String what, Collection<TopicPartition> tps) {
        String list = partitions(tps);
        return list.isEmpty() ? what : what + ' ' + list;
    }

    /**
     * A Java assignor under its own name, which reports the plan when this member runs it (only
     * the group's leader does).
     */
    public abstract static class Reporting implements ConsumerPartitionAssignor {
        private final ConsumerPartitionAssignor inner;

        Reporting(ConsumerPartitionAssignor inner) {
            this.inner = inner;
        }

        @Override
        public java.nio.ByteBuffer subscriptionUserData(java.util.Set<String> topics) {
            return inner.subscriptionUserData(topics);
        }

        @Override
        public GroupAssignment assign(Cluster metadata, GroupSubscription subscription) {
            GroupAssignment plan = inner.assign(metadata, subscription);
            StringBuilder out = new StringBuilder("LEADER");
            for (Map.Entry<String, Assignment> e :
                    new TreeMap<>(plan.groupAssignment()).entrySet()) {
                out.append('\n')
                    .append(line("PLAN " + e.getKey(), e.getValue().partitions()));
            }
            say(out.toString());
            return plan;
        }

        @Override
        public void onAssignment(Assignment assignment, ConsumerGroupMetadata metadata) {
            inner.onAssignment(assignment, metadata);
        }

        @Override
        public List<RebalanceProtocol> supportedProtocols() {
            return inner.supportedProtocols();
        }

        @Override
        public short version() {
            return inner.version();
        }

        @Override
        public String name() {
            return inner.name();
        }
    }

    /** {@code range}. */
    public static final class Range extends Reporting {
        public Range() {
            super(new RangeAssignor());
        }
    }

    /** {@code roundrobin}. */
    public static final class RoundRobin extends Reporting {
        public RoundRobin() {
            super(new RoundRobinAssignor());
        }
    }

    /** {@code cooperative-sticky}. */
    public static final class CooperativeSticky extends Reporting {
        public CooperativeSticky() {
            super(new CooperativeStickyAssignor());
        }
    }

    /** Entry point; see the class comment. */
    public static void main(String[] args) throws Exception {
        if (args.length != 4) {
            System.err.println("usage: GroupMember BOOTSTRAP GROUP TOPIC STRATEGY");
            System.exit(2);
        }
        Class<?> strategy;
        switch (args[3]) {
            case "range":
                strategy = Range.class;
                break;
            case "roundrobin":
                strategy = RoundRobin.class;
                break;
            case "cooperative-sticky":
                strategy = CooperativeSticky.class;
                break;
            default:
                System.err.println("unknown strategy " + args[3]);
                System.exit(2);
                return;
        }
        Properties props = new Properties();
        props.put(ConsumerConfig.BOOTSTRAP_SERVERS_CONFIG, args[0]);
        props.put(ConsumerConfig.GROUP_ID_CONFIG, args[1]);
        props.put(ConsumerConfig.CLIENT_ID_CONFIG, "java-group-member");
        props.put(ConsumerConfig.KEY_DESERIALIZER_CLASS_CONFIG, ByteArrayDeserializer.class.getName());
        props.put(
            ConsumerConfig.VALUE_DESERIALIZER_CLASS_CONFIG, ByteArrayDeserializer.class.getName());
        props.put(ConsumerConfig.PARTITION_ASSIGNMENT_STRATEGY_CONFIG, List.of(strategy));
        props.put(ConsumerConfig.ENABLE_AUTO_COMMIT_CONFIG, "false");
        props.put(ConsumerConfig.AUTO_OFFSET_RESET_CONFIG, "earliest");
        props.put(ConsumerConfig.SESSION_TIMEOUT_MS_CONFIG, "10000");
        props.put(ConsumerConfig.HEARTBEAT_INTERVAL_MS_CONFIG, "500");
        props.put(ConsumerConfig.MAX_POLL_INTERVAL_MS_CONFIG, "30000");
        props.put(ConsumerConfig.CHECK_CRCS_CONFIG, "true");

        AtomicBoolean stop = new AtomicBoolean(false);
        Thread stdin = new Thread(() -> {
            try (BufferedReader in = new BufferedReader(
                    new InputStreamReader(System.in, StandardCharsets.UTF_8))) {
                String l;
                while ((l = in.readLine()) != null) {
                    if (l.trim().equals("stop")) {
                        break;
                    }
                }
            } catch (Exception e) {
                // Stop as at the end of the input.
            }
            stop.set(true);
        });
        stdin.setDaemon(true);
        stdin.start();

        try (KafkaConsumer<byte[], byte[]> consumer = new KafkaConsumer<>(props)) {
            consumer.subscribe(List.of(args[2]), new ConsumerRebalanceListener() {
                @Override
                public void onPartitionsRevoked(Collection<TopicPartition> tps) {
                    say(line("REVOKED", tps));
                }

                @Override
                public void onPartitionsAssigned(Collection<TopicPartition> tps) {
                    say(line("ASSIGNED", tps));
                }

                @Override
                public void onPartitionsLost(Collection<TopicPartition> tps) {
                    say(line("LOST", tps));
                }
            });
            String lastMember = "";
            Map<TopicPartition, Long> lastCommitted = new HashMap<>();
            while (!stop.get()) {
                ConsumerRecords<byte[], byte[]> records = consumer.poll(Duration.ofMillis(100));
                ConsumerGroupMetadata meta = consumer.groupMetadata();
                String member = meta.memberId() + " " + meta.generationId();
                if (!meta.memberId().isEmpty() && !member.equals(lastMember)) {
                    say("MEMBER " + member);
                    lastMember = member;
                }
                for (ConsumerRecord<byte[], byte[]> r : records) {
                    say("RECORD " + r.partition() + " " + r.offset());
                }
                commit(consumer, lastCommitted);
            }
            commit(consumer, lastCommitted);
        }
        say("CLOSED");
    }

    /** Commits the positions of the assigned partitions; reports what is new. */
    private static void commit(
            KafkaConsumer<byte[], byte[]> consumer, Map<TopicPartition, Long> lastCommitted) {
        Map<TopicPartition, OffsetAndMetadata> offsets = new HashMap<>();
        for (TopicPartition tp : consumer.assignment()) {
            offsets.put(tp, new OffsetAndMetadata(consumer.position(tp)));
        }
        if (offsets.isEmpty()) {
            return;
        }
        try {
            consumer.commitSync(offsets);
        } catch (CommitFailedException e) {
            say("COMMIT_FAILED " + e.getMessage().replace('\n', ' '));
            return;
        } catch (KafkaException e) {
            // A rebalance in progress (RebalanceInProgressException) and the like: the next
            // poll rejoins, the next commit tries again.
            say("COMMIT_FAILED " + e.getClass().getSimpleName() + ": "
                + String.valueOf(e.getMessage()).replace('\n', ' '));
            return;
        }
        Map<TopicPartition, Long> changed = new TreeMap<>(
            Comparator.comparing(TopicPartition::topic).thenComparingInt(TopicPartition::partition));
        for (Map.Entry<TopicPartition, OffsetAndMetadata> e : offsets.entrySet()) {
            Long before = lastCommitted.put(e.getKey(), e.getValue().offset());
            if (before == null || before != e.getValue().offset()) {
                changed.put(e.getKey(), e.getValue().offset());
            }
        }
        if (!changed.isEmpty()) {
            StringBuilder s = new StringBuilder("COMMITTED ");
            boolean first = true;
            for (Map.Entry<TopicPartition, Long> e : changed.entrySet()) {
                if (!first) {
                    s.append(',');
                }
                first = false;
                s.append(e.getKey().topic()).append('-').append(e.getKey().partition())
                    .append('=').append(e.getValue());
            }
            say(s.toString());
        }
    }
}
