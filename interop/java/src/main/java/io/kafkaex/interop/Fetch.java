package io.kafkaex.interop;

import java.io.DataInputStream;
import java.io.DataOutputStream;
import java.io.IOException;
import java.net.Socket;
import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.apache.kafka.common.message.FetchRequestData;
import org.apache.kafka.common.message.FetchResponseData;
import org.apache.kafka.common.message.RequestHeaderData;
import org.apache.kafka.common.message.ResponseHeaderData;
import org.apache.kafka.common.protocol.ApiKeys;
import org.apache.kafka.common.protocol.ByteBufferAccessor;
import org.apache.kafka.common.protocol.Errors;
import org.apache.kafka.common.protocol.ObjectSerializationCache;
import org.apache.kafka.common.record.BaseRecords;
import org.apache.kafka.common.record.MemoryRecords;

/**
 * Sends one Fetch request at an explicit API version straight over a socket (no ApiVersions
 * negotiation) for partition 0 of a topic from offset 0, and writes the partition's raw
 * {@code records} bytes from the response to a file.
 *
 * <p>Usage: {@code Fetch HOST:PORT TOPIC VERSION OUT}. The broker must lead the partition.
 *
 * <p>Why: a Kafka 3.x broker down-converts to the message format a Fetch version implies
 * (v0-v1: magic 0, v2-v3: magic 1), so this captures exactly the legacy message sets an old
 * consumer is sent, including compressed wrapper messages.
 */
public final class Fetch {
    private Fetch() {}

    /** Entry point; see the class comment. */
    public static void main(String[] args) throws IOException {
        if (args.length != 4) {
            System.err.println("usage: Fetch HOST:PORT TOPIC VERSION OUT");
            System.exit(2);
        }
        String[] hostPort = args[0].split(":", 2);
        String topic = args[1];
        short version = Short.parseShort(args[2]);
        Path out = Path.of(args[3]);

        FetchRequestData request = new FetchRequestData()
            .setReplicaId(-1)
            .setMaxWaitMs(0)
            .setMinBytes(0)
            .setMaxBytes(Integer.MAX_VALUE)
            .setTopics(List.of(new FetchRequestData.FetchTopic()
                .setTopic(topic)
                .setPartitions(List.of(new FetchRequestData.FetchPartition()
                    .setPartition(0)
                    .setFetchOffset(0)
                    .setPartitionMaxBytes(1 << 20)))));
        RequestHeaderData header = new RequestHeaderData()
            .setRequestApiKey(ApiKeys.FETCH.id)
            .setRequestApiVersion(version)
            .setClientId("kafkaex-interop")
            .setCorrelationId(1);
        short requestHeaderVersion = ApiKeys.FETCH.requestHeaderVersion(version);
        ObjectSerializationCache cache = new ObjectSerializationCache();
        int size = header.size(cache, requestHeaderVersion) + request.size(cache, version);
        ByteBuffer frame = ByteBuffer.allocate(4 + size);
        frame.putInt(size);
        ByteBufferAccessor writer = new ByteBufferAccessor(frame);
        header.write(writer, cache, requestHeaderVersion);
        request.write(writer, cache, version);

        byte[] responseBytes;
        try (Socket socket = new Socket(hostPort[0], Integer.parseInt(hostPort[1]))) {
            socket.setSoTimeout(30_000);
            DataOutputStream os = new DataOutputStream(socket.getOutputStream());
            os.write(frame.array());
            os.flush();
            DataInputStream is = new DataInputStream(socket.getInputStream());
            responseBytes = new byte[is.readInt()];
            is.readFully(responseBytes);
        }
        ByteBufferAccessor reader = new ByteBufferAccessor(ByteBuffer.wrap(responseBytes));
        ResponseHeaderData responseHeader =
            new ResponseHeaderData(reader, ApiKeys.FETCH.responseHeaderVersion(version));
        if (responseHeader.correlationId() != 1) {
            throw new IOException("unexpected correlation id " + responseHeader.correlationId());
        }
        FetchResponseData response = new FetchResponseData(reader, version);
        FetchResponseData.PartitionData partition =
            response.responses().get(0).partitions().get(0);
        Errors error = Errors.forCode(partition.errorCode());
        if (error != Errors.NONE) {
            throw new IOException("fetch " + topic + "-0 v" + version + ": " + error);
        }
        BaseRecords records = partition.records();
        ByteBuffer buffer = ((MemoryRecords) records).buffer();
        byte[] bytes = new byte[buffer.remaining()];
        buffer.duplicate().get(bytes);
        Files.write(out, bytes);
        System.out.println(topic + " fetch v" + version + ": " + bytes.length + " bytes to " + out);
    }
}
