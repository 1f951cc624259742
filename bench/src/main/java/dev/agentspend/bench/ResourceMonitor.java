package dev.agentspend.bench;

import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * Peak resident memory of the watched processes while a phase runs: samples {@code /proc} every
 * second on its own thread; PostgreSQL's PSS once, when the peaks are taken (the end of a phase).
 * CPU needs no sampling: it is cumulative, so the report takes the difference of
 * {@link ProcessStats#sampleAll} at the phase's start and end.
 *
 * <p>Why PSS so rarely: reading {@code smaps_rollup} walks the page tables of every PostgreSQL
 * backend (each maps all of shared_buffers). At 4 reads a second that walk took 13% of the
 * machine's CPU during the fleet phase, and still 2.3% at one read every 5 s (perf record -a: the
 * kernel's smaps_account in this thread), CPU the measured stack then lacked.
 */
final class ResourceMonitor implements AutoCloseable {
    private final List<ProcessStats.Watched> watched;
    private final Map<String, Long> peakRssKb = new LinkedHashMap<>();
    private final Map<String, Long> peakPssKb = new LinkedHashMap<>();
    private volatile boolean stop;
    private final Thread thread;

    ResourceMonitor(List<ProcessStats.Watched> watched) {
        this.watched = watched;
        this.thread = new Thread(this::loop, "resource-monitor");
        thread.setDaemon(true);
        thread.start();
    }

    private void loop() {
        while (!stop) {
            Map<String, ProcessStats.Usage> now = ProcessStats.sampleAll(watched, false);
            synchronized (this) {
                now.forEach((name, u) -> {
                    peakRssKb.merge(name, u.rssKb(), Math::max);
                    peakPssKb.merge(name, u.pssKb(), Math::max);
                });
            }
            try {
                Thread.sleep(1000);   // sampling period of /proc (peak RSS)
            } catch (InterruptedException e) {
                return;
            }
        }
    }

    /** Starts over (the start of a measured window). */
    synchronized void reset() {
        peakRssKb.clear();
        peakPssKb.clear();
    }

    /** Peak RSS since the last reset with the PSS of now, and starts over. */
    synchronized Map<String, long[]> takePeaks() {
        ProcessStats.sampleAll(watched, true).forEach((name, u) -> peakPssKb.merge(name, u.pssKb(), Math::max));
        Map<String, long[]> out = new LinkedHashMap<>();
        for (String name : peakRssKb.keySet()) {
            out.put(name, new long[]{peakRssKb.get(name), peakPssKb.getOrDefault(name, 0L)});
        }
        peakRssKb.clear();
        peakPssKb.clear();
        return out;
    }

    List<ProcessStats.Watched> watched() {
        return watched;
    }

    @Override
    public void close() {
        stop = true;
        thread.interrupt();
    }
}
