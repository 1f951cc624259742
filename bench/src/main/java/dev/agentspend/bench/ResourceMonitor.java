package dev.agentspend.bench;

import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * Peak resident memory of the watched processes while a phase runs: samples {@code /proc} every
 * 250 ms on its own thread. CPU needs no sampling: it is cumulative, so the report takes the
 * difference of {@link ProcessStats#sampleAll} at the phase's start and end.
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
            Map<String, ProcessStats.Usage> now = ProcessStats.sampleAll(watched);
            synchronized (this) {
                now.forEach((name, u) -> {
                    peakRssKb.merge(name, u.rssKb(), Math::max);
                    peakPssKb.merge(name, u.pssKb(), Math::max);
                });
            }
            try {
                Thread.sleep(250);   // sampling period of /proc (peak RSS, CPU)
            } catch (InterruptedException e) {
                return;
            }
        }
    }

    /** Peaks since the last reset, and starts over. */
    synchronized Map<String, long[]> takePeaks() {
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
