package dev.agentspend.bench;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.Map;
import java.util.OptionalDouble;

/**
 * A HotSpot JVM's own performance counters, read from its {@code hsperfdata} file as {@code jstat}
 * does: no attach, no thread in the target, nothing the measurement itself costs the services.
 * The one figure the report needs is how long the JIT compilers have been compiling
 * ({@code java.ci.totalTime}): a profile showed C2 taking half or more of each service's CPU a
 * minute into the load, which a payments-per-CPU figure would otherwise hide.
 */
final class JvmCounters {
    private static final int MAGIC = 0xcafec0c0;
    private static final int HEADER_BYTES = 32;
    /** No counter file of a running JVM is anywhere near this; a larger one is not read. */
    private static final long MAX_FILE_BYTES = 1L << 20;

    private JvmCounters() {
    }

    /** Seconds the JVM with this pid has spent compiling, summed over its compiler threads (elapsed, not CPU). */
    static OptionalDouble compileSeconds(long pid) {
        Map<String, Long> counters = read(file(pid));
        Long ticks = counters.get("java.ci.totalTime");
        Long frequency = counters.get("sun.os.hrt.frequency");
        return ticks == null || frequency == null || frequency <= 0 ? OptionalDouble.empty()
                : OptionalDouble.of((double) ticks / frequency);
    }

    static Path file(long pid) {
        return Path.of(System.getProperty("java.io.tmpdir"), "hsperfdata_" + System.getProperty("user.name"),
                Long.toString(pid));
    }

    /** The long-valued scalar counters of an hsperfdata file; empty when it is missing or not one. */
    static Map<String, Long> read(Path file) {
        try {
            if (!Files.isRegularFile(file) || Files.size(file) > MAX_FILE_BYTES) {
                return Map.of();
            }
            return parse(ByteBuffer.wrap(Files.readAllBytes(file)));
        } catch (IOException | RuntimeException e) {
            return Map.of();
        }
    }

    /**
     * The layout (HotSpot's perfMemory.hpp): a header (magic, byte order, version, used bytes,
     * overflow, timestamp, offset of the first entry, number of entries), then entries that each
     * give their length, the offset of their NUL-terminated name, a vector length (0 for a
     * scalar), a type code ('J' = long) and the offset of their value.
     */
    static Map<String, Long> parse(ByteBuffer b) {
        if (b.capacity() < HEADER_BYTES || b.getInt(0) != MAGIC) {
            return Map.of();
        }
        b.order(b.get(4) == 0 ? ByteOrder.BIG_ENDIAN : ByteOrder.LITTLE_ENDIAN);
        int offset = b.getInt(24);
        int entries = b.getInt(28);
        Map<String, Long> out = new HashMap<>();
        for (int i = 0; i < entries && offset > 0 && offset + 20 <= b.capacity(); i++) {
            int length = b.getInt(offset);
            if (length <= 0) {
                break;
            }
            int nameOffset = b.getInt(offset + 4);
            int vectorLength = b.getInt(offset + 8);
            byte type = b.get(offset + 12);
            int dataOffset = b.getInt(offset + 16);
            if (vectorLength == 0 && type == 'J' && offset + dataOffset + 8 <= b.capacity()) {
                out.put(name(b, offset + nameOffset), b.getLong(offset + dataOffset));
            }
            offset += length;
        }
        return out;
    }

    private static String name(ByteBuffer b, int start) {
        int end = start;
        while (end < b.capacity() && b.get(end) != 0) {
            end++;
        }
        byte[] bytes = new byte[end - start];
        b.get(start, bytes);
        return new String(bytes, StandardCharsets.US_ASCII);
    }
}
