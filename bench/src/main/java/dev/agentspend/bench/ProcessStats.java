package dev.agentspend.bench;

import java.io.IOException;
import java.nio.file.DirectoryStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.OptionalLong;

/**
 * CPU time and resident memory of processes, from Linux's {@code /proc}: {@code /proc/<pid>/stat}
 * (utime + stime, in clock ticks; for PostgreSQL's postmaster also cutime + cstime, the CPU of the
 * backends it has already reaped) and {@code /proc/<pid>/status} ({@code VmRSS}). PostgreSQL is the
 * postmaster plus its live children (every backend, the WAL writer, the checkpointer...): their RSS
 * is summed, which counts shared buffers once per process that touched them, so the report also
 * gives the sum of {@code Pss} (proportional set size, from {@code smaps_rollup}).
 */
final class ProcessStats {
    private static final Path PROC = Path.of("/proc");
    private static final long TICKS_PER_SECOND = clockTicks();

    private ProcessStats() {
    }

    /** A process to watch; with {@code children}, its child processes are counted with it. */
    record Watched(String name, long pid, boolean children) {
    }

    /**
     * CPU seconds used so far (cumulative), memory now in kB, and for a JVM the seconds its JIT
     * compilers have spent so far (NaN for anything else) and its collections so far ({@code gc},
     * null for anything else).
     */
    record Usage(double cpuSeconds, long rssKb, long pssKb, int processes, double compileSeconds, JvmCounters.GcPauses gc) {
        static final Usage NONE = new Usage(0, 0, 0, 0, Double.NaN, null);
    }

    /** The fields of {@code /proc/<pid>/stat} the report needs, in clock ticks. */
    record Stat(long ppid, long utime, long stime, long cutime, long cstime) {
    }

    /**
     * Parses a {@code /proc/<pid>/stat} line. The command name (field 2) is in parentheses and may
     * itself hold spaces and parentheses, so fields are counted from the last ')'.
     */
    static Stat parseStat(String line) {
        int close = line.lastIndexOf(')');
        if (close < 0) {
            throw new IllegalArgumentException("not a /proc/<pid>/stat line: " + line);
        }
        String[] f = line.substring(close + 2).trim().split("\\s+");
        // f[0] is field 3 (state): field n is f[n - 3]
        return new Stat(Long.parseLong(f[1]), Long.parseLong(f[11]), Long.parseLong(f[12]),
                Long.parseLong(f[13]), Long.parseLong(f[14]));
    }

    /** A {@code kB} field of {@code /proc/<pid>/status} or {@code smaps_rollup} ("VmRSS:  1234 kB"). */
    static OptionalLong parseKb(String text, String field) {
        for (String line : text.split("\n")) {
            if (line.startsWith(field + ":")) {
                String[] parts = line.substring(field.length() + 1).trim().split("\\s+");
                return OptionalLong.of(Long.parseLong(parts[0]));
            }
        }
        return OptionalLong.empty();
    }

    static long clockTicks() {
        try {
            Process p = new ProcessBuilder("getconf", "CLK_TCK").redirectErrorStream(true).start();
            String out = new String(p.getInputStream().readAllBytes()).trim();
            p.waitFor();
            return Long.parseLong(out);
        } catch (IOException | RuntimeException e) {
            return 100;
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            return 100;
        }
    }

    /** The usage of a watched process (and its children); {@link Usage#NONE} once it is gone. */
    static Usage sample(Watched w) {
        return sample(w, true);
    }

    /**
     * As {@link #sample(Watched)}; without {@code withPss} the PSS of a process watched with its
     * children is reported as 0 (not read).
     */
    static Usage sample(Watched w, boolean withPss) {
        Map<Long, Stat> stats = new LinkedHashMap<>();
        Stat root = stat(w.pid());
        if (root == null) {
            return Usage.NONE;
        }
        stats.put(w.pid(), root);
        if (w.children()) {
            stats.putAll(children(w.pid()));
        }
        long ticks = root.cutime() + root.cstime();
        long rss = 0;
        long pss = 0;
        for (Map.Entry<Long, Stat> e : stats.entrySet()) {
            ticks += e.getValue().utime() + e.getValue().stime();
            rss += read(PROC.resolve(e.getKey() + "/status")).map(t -> parseKb(t, "VmRSS").orElse(0)).orElse(0L);
            if (w.children() && withPss) {
                // only where RSS double-counts shared memory; reading smaps_rollup walks the page tables
                pss += read(PROC.resolve(e.getKey() + "/smaps_rollup")).map(t -> parseKb(t, "Pss").orElse(0)).orElse(0L);
            }
        }
        // PostgreSQL (watched with its children) is no JVM; the services and the bench's client are
        Map<String, Long> counters = w.children() ? Map.of() : JvmCounters.read(JvmCounters.file(w.pid()));
        double compile = JvmCounters.compileSeconds(counters).orElse(Double.NaN);
        return new Usage((double) ticks / TICKS_PER_SECOND, rss, pss, stats.size(), compile,
                JvmCounters.gcPauses(counters).orElse(null));
    }

    private static Map<Long, Stat> children(long parent) {
        Map<Long, Stat> out = new LinkedHashMap<>();
        try (DirectoryStream<Path> dirs = Files.newDirectoryStream(PROC, p -> p.getFileName().toString().matches("\\d+"))) {
            for (Path d : dirs) {
                long pid = Long.parseLong(d.getFileName().toString());
                Stat s = stat(pid);
                if (s != null && s.ppid() == parent) {
                    out.put(pid, s);
                }
            }
        } catch (IOException e) {
            // no /proc: no children counted
        }
        return out;
    }

    /** CPU seconds one process has used so far (user and system, its own only); NaN once it is gone. */
    static double cpuSeconds(long pid) {
        Stat s = stat(pid);
        return s == null ? Double.NaN : (double) (s.utime() + s.stime()) / TICKS_PER_SECOND;
    }

    private static Stat stat(long pid) {
        return read(PROC.resolve(pid + "/stat")).map(line -> {
            try {
                return parseStat(line);
            } catch (RuntimeException e) {
                return null;
            }
        }).orElse(null);
    }

    private static java.util.Optional<String> read(Path p) {
        try {
            return java.util.Optional.of(Files.readString(p));
        } catch (IOException | RuntimeException e) {
            return java.util.Optional.empty();
        }
    }

    /** Samples of every watched process at one moment. */
    static Map<String, Usage> sampleAll(List<Watched> watched) {
        return sampleAll(watched, true);
    }

    static Map<String, Usage> sampleAll(List<Watched> watched, boolean withPss) {
        Map<String, Usage> out = new LinkedHashMap<>();
        for (Watched w : watched) {
            out.put(w.name(), sample(w, withPss));
        }
        return out;
    }
}
