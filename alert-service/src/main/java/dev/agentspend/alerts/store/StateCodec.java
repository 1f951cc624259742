package dev.agentspend.alerts.store;

import com.fasterxml.jackson.annotation.JsonIgnore;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.agentspend.alerts.domain.AgentState;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.TreeMap;
import java.util.TreeSet;

/**
 * The stored form of the consumer's rule state, kept in bytea columns that PostgreSQL neither parses
 * nor compresses (storage EXTERNAL). An agent's state is stored as its head (everything but the time
 * buckets and the open tasks), one row per bucket and one per open task, so a batch writes the
 * buckets and tasks its entries touched, not the agent's whole day of buckets and every task it has
 * open.
 *
 * <p>Two forms are read, told apart by the first byte: JSON (always '{'), which every release before
 * this one wrote, and a binary form (first byte {@link #BINARY_V1}) of variable-length integers and
 * length-prefixed UTF-8 strings, written by default. A batch rewrites every head and bucket it
 * touches, so the stored bytes are paid in WAL and in the consumer's CPU on every batch: a fleet
 * agent's head of 922 bytes and bucket of 368 as JSON, field names and decimal digits included
 * (ConsumerStoreCostMain). The binary head puts what rarely changes first (ids, past days) and the
 * counters every batch moves last, so that PostgreSQL's WAL record of an in-place update, which
 * leaves out the bytes the old and new row share at either end, holds little more than the counters.
 */
final class StateCodec {
    /** First byte of the binary form, version 1. JSON starts with '{'. */
    static final byte BINARY_V1 = 1;
    /** Longest string stored (ids, tools, decline reasons, cap window keys), in UTF-8 bytes. */
    static final int MAX_STRING_BYTES = 4096;

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

    /** Whether {@code stored} is in {@code format}. */
    static boolean isIn(byte[] stored, StateFormat format) {
        return stored.length > 0 && (stored[0] == BINARY_V1) == (format == StateFormat.BINARY);
    }

    static byte[] head(AgentState s, StateFormat format) {
        return format == StateFormat.JSON ? writeJson(s) : writeHead(s);
    }

    static AgentState readHead(byte[] stored) {
        return isBinary(stored, "head") ? readHeadBinary(stored) : readJson(stored, AgentState.class);
    }

    static byte[] bucket(AgentState.Bucket b, StateFormat format) {
        return format == StateFormat.JSON ? writeJson(b) : writeBucket(b);
    }

    static AgentState.Bucket readBucket(byte[] stored) {
        return isBinary(stored, "bucket") ? readBucketBinary(stored) : readJson(stored, AgentState.Bucket.class);
    }

    private static boolean isBinary(byte[] stored, String what) {
        if (stored.length == 0 || stored[0] != BINARY_V1 && stored[0] != '{') {
            throw new IllegalStateException("stored " + what + " is in no known form (first byte "
                    + (stored.length == 0 ? "none" : String.format("0x%02x", stored[0])) + ")");
        }
        return stored[0] == BINARY_V1;
    }

    // ------------------------------------------------------------------------------------ binary

    private static byte[] writeHead(AgentState s) {
        Out out = new Out(64 + 16 * s.days.size() + 32 * s.capWindows.size());
        out.raw(BINARY_V1);
        out.string(s.agentId);
        out.string(s.teamId);
        out.string(s.currencyCode);
        // days ascending: today's, the one a batch changes, is the last of them
        out.count(s.days.size());
        for (Map.Entry<Long, AgentState.Day> d : s.days.entrySet()) {
            out.number(d.getKey());
            out.number(d.getValue().spend);
            out.number(d.getValue().taskSpend);
            out.number(d.getValue().tasks);
        }
        // sorted, so that equal maps are equal bytes whatever the hash order
        out.count(s.capWindows.size());
        for (String key : new TreeSet<>(s.capWindows.keySet())) {
            out.string(key);
            out.number(s.capWindows.get(key));
        }
        out.number(s.lifetimeSpend);
        out.number(s.lastRecordedEpochMilli);
        out.number(s.lastPosition);
        return out.bytes();
    }

    private static AgentState readHeadBinary(byte[] stored) {
        In in = new In(stored, "head");
        AgentState s = new AgentState(in.string());
        s.teamId = in.string();
        s.currencyCode = in.string();
        int days = in.count(4);
        for (int i = 0; i < days; i++) {
            long day = in.number();
            AgentState.Day d = new AgentState.Day();
            d.spend = in.number();
            d.taskSpend = in.number();
            d.tasks = in.number();
            s.days.put(day, d);
        }
        int windows = in.count(2);
        for (int i = 0; i < windows; i++) {
            s.capWindows.put(in.string(), in.number());
        }
        s.lifetimeSpend = in.number();
        s.lastRecordedEpochMilli = in.number();
        s.lastPosition = in.number();
        in.end();
        return s;
    }

    /** A tool's entry has a flag byte: which of the two maps hold it (a map never holds a zero, but may). */
    private static final int IN_SPEND = 1;
    private static final int IN_PAYMENTS = 2;

    private static byte[] writeBucket(AgentState.Bucket b) {
        TreeSet<String> tools = new TreeSet<>(b.toolSpend.keySet());
        tools.addAll(b.toolPayments.keySet());
        Out out = new Out(32 + 32 * tools.size() + 24 * b.declineReasons.size());
        out.raw(BINARY_V1);
        out.count(tools.size());
        for (String tool : tools) {
            Long spend = b.toolSpend.get(tool);
            Long payments = b.toolPayments.get(tool);
            out.string(tool);
            out.raw((byte) ((spend != null ? IN_SPEND : 0) | (payments != null ? IN_PAYMENTS : 0)));
            out.number(spend != null ? spend : 0);
            out.number(payments != null ? payments : 0);
        }
        out.count(b.declineReasons.size());
        for (String reason : new TreeSet<>(b.declineReasons.keySet())) {
            out.string(reason);
            out.number(b.declineReasons.get(reason));
        }
        out.number(b.spend);
        out.number(b.payments);
        out.number(b.declines);
        out.number(b.tracked);
        out.number(b.retries);
        out.number(b.retrySpend);
        out.number(b.offHoursSpend);
        out.number(b.offHoursPayments);
        return out.bytes();
    }

    private static AgentState.Bucket readBucketBinary(byte[] stored) {
        In in = new In(stored, "bucket");
        AgentState.Bucket b = new AgentState.Bucket();
        int tools = in.count(4);
        for (int i = 0; i < tools; i++) {
            String tool = in.string();
            int flags = in.raw();
            if ((flags & ~(IN_SPEND | IN_PAYMENTS)) != 0 || flags == 0) {
                throw in.corrupt("tool flags " + flags);
            }
            long spend = in.number();
            long payments = in.number();
            if ((flags & IN_SPEND) != 0) {
                b.toolSpend.put(tool, spend);
            }
            if ((flags & IN_PAYMENTS) != 0) {
                b.toolPayments.put(tool, payments);
            }
        }
        int reasons = in.count(2);
        for (int i = 0; i < reasons; i++) {
            b.declineReasons.put(in.string(), in.number());
        }
        b.spend = in.number();
        b.payments = in.number();
        b.declines = in.number();
        b.tracked = in.number();
        b.retries = in.number();
        b.retrySpend = in.number();
        b.offHoursSpend = in.number();
        b.offHoursPayments = in.number();
        in.end();
        return b;
    }

    /** Bytes written: raw bytes, counts (unsigned varints), numbers (zigzag varints) and strings. */
    private static final class Out {
        private byte[] buf;
        private int size;

        Out(int capacity) {
            buf = new byte[capacity];
        }

        void raw(byte b) {
            if (size == buf.length) {
                buf = Arrays.copyOf(buf, buf.length * 2);
            }
            buf[size++] = b;
        }

        void count(int n) {
            assert n >= 0 : n;
            unsigned(n);
        }

        void number(long v) {
            unsigned((v << 1) ^ (v >> 63));
        }

        private void unsigned(long v) {
            while ((v & ~0x7FL) != 0) {
                raw((byte) ((v & 0x7F) | 0x80));
                v >>>= 7;
            }
            raw((byte) v);
        }

        void string(String s) {
            byte[] utf8 = s.getBytes(StandardCharsets.UTF_8);
            if (utf8.length > MAX_STRING_BYTES) {
                throw new IllegalStateException("a string of " + utf8.length + " bytes in rule state (at most "
                        + MAX_STRING_BYTES + ")");
            }
            count(utf8.length);
            for (byte b : utf8) {
                raw(b);
            }
        }

        byte[] bytes() {
            return Arrays.copyOf(buf, size);
        }
    }

    /** Reads what {@link Out} wrote; every length and count is checked against the bytes left. */
    private static final class In {
        private final byte[] buf;
        private final String what;
        private int pos = 1;

        In(byte[] buf, String what) {
            this.buf = buf;
            this.what = what;
        }

        int raw() {
            if (pos >= buf.length) {
                throw corrupt("it ends early");
            }
            return buf[pos++] & 0xFF;
        }

        /** A count of items of at least {@code minItemBytes} each: more than the bytes left can hold is corrupt. */
        int count(int minItemBytes) {
            long n = unsigned();
            if (n > (buf.length - pos) / minItemBytes) {
                throw corrupt("a count of " + n + " with " + (buf.length - pos) + " bytes left");
            }
            return (int) n;
        }

        long number() {
            long v = unsigned();
            return (v >>> 1) ^ -(v & 1);
        }

        private long unsigned() {
            long v = 0;
            for (int shift = 0; shift < 64; shift += 7) {
                int b = raw();
                v |= (long) (b & 0x7F) << shift;
                if ((b & 0x80) == 0) {
                    return v;
                }
            }
            throw corrupt("a number longer than 10 bytes");
        }

        String string() {
            long n = unsigned();
            if (n > MAX_STRING_BYTES || n > buf.length - pos) {
                throw corrupt("a string of " + n + " bytes with " + (buf.length - pos) + " left");
            }
            String s = new String(buf, pos, (int) n, StandardCharsets.UTF_8);
            pos += (int) n;
            return s;
        }

        void end() {
            if (pos != buf.length) {
                throw corrupt((buf.length - pos) + " bytes left over");
            }
        }

        IllegalStateException corrupt(String why) {
            return new IllegalStateException("stored " + what + " does not parse: " + why + " (at byte " + pos + " of "
                    + buf.length + ")");
        }
    }

    // ------------------------------------------------------------------------------------ JSON

    private static byte[] writeJson(Object value) {
        try {
            return MAPPER.writeValueAsBytes(value);
        } catch (IOException e) {
            throw new IllegalStateException("cannot write " + value.getClass().getSimpleName(), e);
        }
    }

    private static <T> T readJson(byte[] stored, Class<T> type) {
        try {
            return MAPPER.readValue(stored, type);
        } catch (IOException e) {
            throw new IllegalStateException("stored " + type.getSimpleName() + " does not parse", e);
        }
    }
}
