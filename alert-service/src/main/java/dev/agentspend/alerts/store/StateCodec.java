package dev.agentspend.alerts.store;

import com.fasterxml.jackson.annotation.JsonIgnore;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.agentspend.alerts.domain.AgentState;

import java.io.IOException;
import java.util.LinkedHashMap;
import java.util.TreeMap;

/**
 * The stored form of the consumer's rule state: JSON as bytes, kept in bytea columns that
 * PostgreSQL neither parses (jsonb did, on every write) nor compresses (storage EXTERNAL). An
 * agent's state is stored as its head (everything but the time buckets and the open tasks), one row
 * per bucket and one per open task, so a batch writes the buckets and tasks its entries touched, not
 * the agent's whole day of buckets and every task it has open.
 */
final class StateCodec {
    /** The head of an agent's state: its buckets and open tasks are rows of their own. */
    private abstract static class HeadOnly {
        @JsonIgnore
        TreeMap<Long, AgentState.Bucket> buckets;
        @JsonIgnore
        LinkedHashMap<String, AgentState.OpenTask> openTasks;
    }

    private static final ObjectMapper MAPPER = Json.configured().addMixIn(AgentState.class, HeadOnly.class).build();

    private StateCodec() {
    }

    static byte[] head(AgentState s) {
        return write(s);
    }

    static AgentState readHead(byte[] stored) {
        return read(stored, AgentState.class);
    }

    static byte[] bucket(AgentState.Bucket b) {
        return write(b);
    }

    static AgentState.Bucket readBucket(byte[] stored) {
        return read(stored, AgentState.Bucket.class);
    }

    private static byte[] write(Object value) {
        try {
            return MAPPER.writeValueAsBytes(value);
        } catch (IOException e) {
            throw new IllegalStateException("cannot write " + value.getClass().getSimpleName(), e);
        }
    }

    private static <T> T read(byte[] stored, Class<T> type) {
        try {
            return MAPPER.readValue(stored, type);
        } catch (IOException e) {
            throw new IllegalStateException("stored " + type.getSimpleName() + " does not parse", e);
        }
    }
}
