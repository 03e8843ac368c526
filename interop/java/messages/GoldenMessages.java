// Golden bytes from the Java client's own generated message classes at the newest versions of
// Kafka 4.4 (kafka-clients 4.4.0): for each message, one line `NAME VERSION HEX`, the bytes of
// `MessageUtil.toByteBufferAccessor(message, version)`.
//
// A single-file program, outside the interop Maven project (which stays on kafka-clients 3.9.x
// to read magic 0/1 message sets), run against the jar `cargo xtask codegen` resolves:
//
//   java -cp target/kafka-specs/kafka-clients-4.4.0.jar interop/java/messages/GoldenMessages.java
//
// kafkaex-protocol/tests/roundtrip_java.rs holds its output and checks that each decodes to the
// values set here and re-encodes to the same bytes; with KAFKAEX_INTEROP set it runs this
// program again and compares.

import java.nio.ByteBuffer;
import java.util.List;

import org.apache.kafka.common.Uuid;
import org.apache.kafka.common.message.*;
import org.apache.kafka.common.protocol.ApiMessage;
import org.apache.kafka.common.protocol.MessageUtil;
import org.apache.kafka.common.record.internal.MemoryRecords;

public final class GoldenMessages {
    private GoldenMessages() {}

    static final Uuid TOPIC = new Uuid(0x0102030405060708L, 0x090a0b0c0d0e0f10L);
    static final Uuid DIR = new Uuid(17L, 18L);

    static void emit(String name, int version, ApiMessage m) {
        ByteBuffer b = MessageUtil.toByteBufferAccessor(m, (short) version).buffer();
        StringBuilder hex = new StringBuilder();
        while (b.hasRemaining()) {
            hex.append(String.format("%02x", b.get()));
        }
        System.out.println(name + " " + version + " " + hex);
    }

    static MemoryRecords records() {
        return MemoryRecords.readableRecords(ByteBuffer.wrap(new byte[] {1, 2, 3, 4, 5}));
    }

    public static void main(String[] args) {
        // Produce v13: topics by id (KIP-516), no name.
        ProduceRequestData.TopicProduceDataCollection topics = new ProduceRequestData.TopicProduceDataCollection();
        topics.add(new ProduceRequestData.TopicProduceData()
            .setTopicId(TOPIC)
            .setPartitionData(List.of(new ProduceRequestData.PartitionProduceData().setIndex(2).setRecords(records()))));
        emit("ProduceRequest", 13, new ProduceRequestData()
            .setTransactionalId("tx").setAcks((short) -1).setTimeoutMs(30000).setTopicData(topics));

        ProduceResponseData.TopicProduceResponseCollection responses = new ProduceResponseData.TopicProduceResponseCollection();
        responses.add(new ProduceResponseData.TopicProduceResponse()
            .setTopicId(TOPIC)
            .setPartitionResponses(List.of(new ProduceResponseData.PartitionProduceResponse()
                .setIndex(2).setErrorCode((short) 6).setBaseOffset(100).setLogAppendTimeMs(-1).setLogStartOffset(7)
                .setCurrentLeader(new ProduceResponseData.LeaderIdAndEpoch().setLeaderId(3).setLeaderEpoch(9)))));
        ProduceResponseData.NodeEndpointCollection endpoints = new ProduceResponseData.NodeEndpointCollection();
        endpoints.add(new ProduceResponseData.NodeEndpoint().setNodeId(3).setHost("h3").setPort(9092).setRack("r"));
        emit("ProduceResponse", 13, new ProduceResponseData()
            .setResponses(responses).setThrottleTimeMs(5).setNodeEndpoints(endpoints));

        // Fetch v18: the follower's high watermark (tagged 1 in each partition).
        emit("FetchRequest", 18, new FetchRequestData()
            .setReplicaState(new FetchRequestData.ReplicaState().setReplicaId(1).setReplicaEpoch(4))
            .setMaxWaitMs(500).setMinBytes(1).setMaxBytes(52428800).setIsolationLevel((byte) 1)
            .setSessionId(0).setSessionEpoch(-1)
            .setTopics(List.of(new FetchRequestData.FetchTopic().setTopicId(TOPIC)
                .setPartitions(List.of(new FetchRequestData.FetchPartition()
                    .setPartition(2).setCurrentLeaderEpoch(9).setFetchOffset(42).setLastFetchedEpoch(8)
                    .setLogStartOffset(0).setPartitionMaxBytes(1048576).setReplicaDirectoryId(DIR)
                    .setHighWatermark(40)))))
            .setForgottenTopicsData(List.of())
            .setRackId("rack-a"));

        emit("FetchResponse", 18, new FetchResponseData()
            .setThrottleTimeMs(0).setErrorCode((short) 0).setSessionId(7)
            .setResponses(List.of(new FetchResponseData.FetchableTopicResponse().setTopicId(TOPIC)
                .setPartitions(List.of(new FetchResponseData.PartitionData()
                    .setPartitionIndex(2).setHighWatermark(43).setLastStableOffset(43).setLogStartOffset(0)
                    .setAbortedTransactions(List.of(new FetchResponseData.AbortedTransaction().setProducerId(11).setFirstOffset(12)))
                    .setPreferredReadReplica(-1).setRecords(records()))))));

        // ListOffsets v11 (the same shape as v10; v11 adds the EARLIEST_PENDING_UPLOAD timestamp).
        emit("ListOffsetsRequest", 11, new ListOffsetsRequestData()
            .setReplicaId(-1).setIsolationLevel((byte) 1).setTimeoutMs(1000)
            .setTopics(List.of(new ListOffsetsRequestData.ListOffsetsTopic().setName("t")
                .setPartitions(List.of(new ListOffsetsRequestData.ListOffsetsPartition()
                    .setPartitionIndex(0).setCurrentLeaderEpoch(3).setTimestamp(-6))))));
        emit("ListOffsetsResponse", 11, new ListOffsetsResponseData()
            .setThrottleTimeMs(1)
            .setTopics(List.of(new ListOffsetsResponseData.ListOffsetsTopicResponse().setName("t")
                .setPartitions(List.of(new ListOffsetsResponseData.ListOffsetsPartitionResponse()
                    .setPartitionIndex(0).setErrorCode((short) 0).setTimestamp(-1).setOffset(17).setLeaderEpoch(3))))));

        // OffsetCommit v10 and OffsetFetch v10: topics by id.
        emit("OffsetCommitRequest", 10, new OffsetCommitRequestData()
            .setGroupId("g").setGenerationIdOrMemberEpoch(5).setMemberId("m").setGroupInstanceId(null)
            .setTopics(List.of(new OffsetCommitRequestData.OffsetCommitRequestTopic().setTopicId(TOPIC)
                .setPartitions(List.of(new OffsetCommitRequestData.OffsetCommitRequestPartition()
                    .setPartitionIndex(2).setCommittedOffset(99).setCommittedLeaderEpoch(9).setCommittedMetadata("md"))))));
        emit("OffsetCommitResponse", 10, new OffsetCommitResponseData()
            .setThrottleTimeMs(0)
            .setTopics(List.of(new OffsetCommitResponseData.OffsetCommitResponseTopic().setTopicId(TOPIC)
                .setPartitions(List.of(new OffsetCommitResponseData.OffsetCommitResponsePartition()
                    .setPartitionIndex(2).setErrorCode((short) 100))))));
        emit("OffsetFetchRequest", 10, new OffsetFetchRequestData()
            .setGroups(List.of(new OffsetFetchRequestData.OffsetFetchRequestGroup()
                .setGroupId("g").setMemberId("m").setMemberEpoch(5)
                .setTopics(List.of(new OffsetFetchRequestData.OffsetFetchRequestTopics().setTopicId(TOPIC).setPartitionIndexes(List.of(0, 2))))))
            .setRequireStable(true));
        emit("OffsetFetchResponse", 10, new OffsetFetchResponseData()
            .setThrottleTimeMs(0)
            .setGroups(List.of(new OffsetFetchResponseData.OffsetFetchResponseGroup().setGroupId("g").setErrorCode((short) 0)
                .setTopics(List.of(new OffsetFetchResponseData.OffsetFetchResponseTopics().setTopicId(TOPIC)
                    .setPartitions(List.of(new OffsetFetchResponseData.OffsetFetchResponsePartitions()
                        .setPartitionIndex(2).setCommittedOffset(99).setCommittedLeaderEpoch(9).setMetadata("md").setErrorCode((short) 0))))))));

        // Metadata v13: a top-level error code in the response.
        emit("MetadataRequest", 13, new MetadataRequestData()
            .setTopics(List.of(new MetadataRequestData.MetadataRequestTopic().setTopicId(Uuid.ZERO_UUID).setName("t")))
            .setAllowAutoTopicCreation(false).setIncludeTopicAuthorizedOperations(true));
        MetadataResponseData.MetadataResponseBrokerCollection brokers = new MetadataResponseData.MetadataResponseBrokerCollection();
        brokers.add(new MetadataResponseData.MetadataResponseBroker().setNodeId(1).setHost("h").setPort(9092).setRack(null));
        MetadataResponseData.MetadataResponseTopicCollection mtopics = new MetadataResponseData.MetadataResponseTopicCollection();
        mtopics.add(new MetadataResponseData.MetadataResponseTopic().setErrorCode((short) 0).setName("t").setTopicId(TOPIC)
            .setIsInternal(false).setTopicAuthorizedOperations(8)
            .setPartitions(List.of(new MetadataResponseData.MetadataResponsePartition()
                .setErrorCode((short) 0).setPartitionIndex(0).setLeaderId(1).setLeaderEpoch(2)
                .setReplicaNodes(List.of(1)).setIsrNodes(List.of(1)).setOfflineReplicas(List.of()))));
        emit("MetadataResponse", 13, new MetadataResponseData()
            .setThrottleTimeMs(0).setBrokers(brokers).setClusterId("c").setControllerId(1).setTopics(mtopics)
            .setErrorCode((short) 0));

        // ApiVersions v5: the client says which cluster and node it expects (KIP-1242).
        emit("ApiVersionsRequest", 5, new ApiVersionsRequestData()
            .setClientSoftwareName("kafkaex").setClientSoftwareVersion("0.1.0").setClusterId("c").setNodeId(1));
        ApiVersionsResponseData.ApiVersionCollection keys = new ApiVersionsResponseData.ApiVersionCollection();
        keys.add(new ApiVersionsResponseData.ApiVersion().setApiKey((short) 0).setMinVersion((short) 0).setMaxVersion((short) 13));
        emit("ApiVersionsResponse", 5, new ApiVersionsResponseData()
            .setErrorCode((short) 0).setApiKeys(keys).setThrottleTimeMs(0).setFinalizedFeaturesEpoch(3));

        // InitProducerId v6: two-phase commit (KIP-939).
        emit("InitProducerIdRequest", 6, new InitProducerIdRequestData()
            .setTransactionalId("tx").setTransactionTimeoutMs(60000).setProducerId(-1).setProducerEpoch((short) -1)
            .setEnable2Pc(true).setKeepPreparedTxn(true));
        emit("InitProducerIdResponse", 6, new InitProducerIdResponseData()
            .setThrottleTimeMs(0).setErrorCode((short) 0).setProducerId(1000).setProducerEpoch((short) 1)
            .setOngoingTxnProducerId(999).setOngoingTxnProducerEpoch((short) 0));
    }
}
