package dev.agentspend.bench;

import org.junit.jupiter.api.Test;

import java.util.OptionalLong;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

class ProcessStatsTest {
    @Test
    void statFieldsAreCountedFromTheLastParenthesis() {
        // a command name with a space and a parenthesis of its own, as PostgreSQL's titles can be
        String line = "4242 (postgres: a (b) c) S 4200 4242 4242 0 -1 4194560 1000 0 0 0 150 37 12 5 20 0 1 0 100"
                + " 200000000 5000 18446744073709551615 1 1 0 0 0 0 0 0 0 0 0 0 17 1 0 0 0 0 0";
        ProcessStats.Stat s = ProcessStats.parseStat(line);
        assertEquals(4200, s.ppid());
        assertEquals(150, s.utime());
        assertEquals(37, s.stime());
        assertEquals(12, s.cutime());
        assertEquals(5, s.cstime());
    }

    @Test
    void kilobyteFieldsOfStatusAndSmapsRollup() {
        String status = "Name:\tjava\nVmPeak:\t 9000000 kB\nVmHWM:\t  250000 kB\nVmRSS:\t  201234 kB\nThreads:\t42\n";
        assertEquals(OptionalLong.of(201_234), ProcessStats.parseKb(status, "VmRSS"));
        assertEquals(OptionalLong.of(250_000), ProcessStats.parseKb(status, "VmHWM"));
        assertTrue(ProcessStats.parseKb(status, "VmSwap").isEmpty());
        String rollup = "55d0-7ffc ---p 00000000 00:00 0 [rollup]\nRss:              153600 kB\nPss:               40960 kB\n";
        assertEquals(OptionalLong.of(40_960), ProcessStats.parseKb(rollup, "Pss"));
    }

    @Test
    void thisProcessIsReadable() {
        ProcessStats.Usage u = ProcessStats.sample(new ProcessStats.Watched("me", ProcessHandle.current().pid(), false));
        assertTrue(u.rssKb() > 0, "VmRSS of the test JVM");
        assertTrue(u.cpuSeconds() > 0, "CPU of the test JVM");
    }
}
