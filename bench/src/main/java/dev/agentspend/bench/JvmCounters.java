package dev.agentspend.bench;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.Map;
import java.util.Optional;
import java.util.OptionalDouble;

/**
 * A HotSpot JVM's own performance counters, read from its {@code hsperfdata} file as {@code jstat}
 * does: no attach, no thread in the target, nothing the measurement itself costs the services.
 * The report needs how long the JIT compilers have been compiling ({@code java.ci.totalTime}: a
 * profile showed C2 taking half or more of each service's CPU a minute into the load, which a
 * payments-per-CPU figure would otherwise hide) and how long the collectors stopped the world.
 */
final class JvmCounters {
    private static final int MAGIC = 0xcafec0c0;
    private static final int HEADER_BYTES = 32;
    /** No counter file of a running JVM is anywhere near this; a larger one is not read. */
    private static final long MAX_FILE_BYTES = 1L << 20;

    private JvmCounters() {
    }

    /**
     * Stop-the-world collections so far. Every HotSpot collector publishes its young collector as
     * {@code sun.gc.collector.0} and its full (old generation) collector as {@code collector.1};
     * G1 adds its concurrent cycle's remark and cleanup pauses as {@code collector.2} ("other").
     */
    record GcPauses(long youngCount, double youngSeconds, long fullCount, double fullSeconds, long otherCount,
                    double otherSeconds) {
        GcPauses since(GcPauses start) {
            return new GcPauses(youngCount - start.youngCount, youngSeconds - start.youngSeconds, fullCount - start.fullCount,
                    fullSeconds - start.fullSeconds, otherCount - start.otherCount, otherSeconds - start.otherSeconds);
        }
    }

    /** Seconds the JVM has spent compiling, summed over its compiler threads (elapsed, not CPU). */
    static OptionalDouble compileSeconds(Map<String, Long> counters) {
        Long ticks = counters.get("java.ci.totalTime");
        Long frequency = counters.get("sun.os.hrt.frequency");
        return ticks == null || frequency == null || frequency <= 0 ? OptionalDouble.empty()
                : OptionalDouble.of((double) ticks / frequency);
    }

    /** The JVM's collections so far; empty when the counters are not there (no JVM, or -XX:-UsePerfData). */
    static Optional<GcPauses> gcPauses(Map<String, Long> counters) {
        Long frequency = counters.get("sun.os.hrt.frequency");
        Long youngCount = counters.get("sun.gc.collector.0.invocations");
        Long youngTicks = counters.get("sun.gc.collector.0.time");
        if (frequency == null || frequency <= 0 || youngCount == null || youngTicks == null) {
            return Optional.empty();
        }
        double hz = frequency;
        return Optional.of(new GcPauses(youngCount, youngTicks / hz,
                counters.getOrDefault("sun.gc.collector.1.invocations", 0L),
                counters.getOrDefault("sun.gc.collector.1.time", 0L) / hz,
                counters.getOrDefault("sun.gc.collector.2.invocations", 0L),
                counters.getOrDefault("sun.gc.collector.2.time", 0L) / hz));
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
