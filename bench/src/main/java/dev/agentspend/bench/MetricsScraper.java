package dev.agentspend.bench;

import java.time.Duration;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.function.IntFunction;

/**
 * Scrapes every service's {@code /q/metrics} on a fixed interval for the whole run, as the
 * Prometheus server of a deployment does. Without it the first scrape of a service came from the
 * report itself, at the start of phase A's measured window, and the ledger then compiled its
 * exposition code inside the window: about 1.5 CPU seconds of JIT work (jdk.CompilerStatistics, 100
 * compilations in the second after the scrape) charged to the payment path and taken from its cores.
 * Scraped from the start, that code is compiled during the warm-up and each window carries the steady
 * cost of one scrape per interval, which a production deployment pays too.
 */
final class MetricsScraper implements AutoCloseable {
    /** A common production scrape interval (Prometheus' own default is a minute). */
    static final Duration INTERVAL = Duration.ofSeconds(15);

    private final Map<String, Integer> ports;
    private final IntFunction<String> fetch;
    private final ScheduledExecutorService timer = Executors.newSingleThreadScheduledExecutor(r -> {
        Thread t = new Thread(r, "metrics-scraper");
        t.setDaemon(true);
        return t;
    });
    private final Map<String, int[]> outcomes = new LinkedHashMap<>();

    /**
     * @param ports service name to HTTP port
     * @param fetch the exposition of the service on a port, or null when it did not answer
     */
    MetricsScraper(Map<String, Integer> ports, IntFunction<String> fetch) {
        this.ports = new LinkedHashMap<>(ports);
        this.fetch = fetch;
        this.ports.keySet().forEach(s -> outcomes.put(s, new int[2]));
    }

    /** Scrapes every service now and then every {@code interval}. */
    MetricsScraper start(Duration interval) {
        if (interval.isNegative() || interval.isZero()) {
            throw new IllegalArgumentException("scrape interval must be positive: " + interval);
        }
        timer.scheduleAtFixedRate(this::scrapeAll, 0, interval.toMillis(), TimeUnit.MILLISECONDS);
        return this;
    }

    /** One round: every service scraped once. */
    void scrapeAll() {
        ports.forEach((service, port) -> {
            boolean answered = fetch.apply(port) != null;
            synchronized (this) {
                outcomes.get(service)[answered ? 0 : 1]++;
            }
        });
    }

    /** Per service: scrapes answered and scrapes failed so far. */
    synchronized Map<String, int[]> outcomes() {
        Map<String, int[]> copy = new LinkedHashMap<>();
        outcomes.forEach((s, o) -> copy.put(s, o.clone()));
        return copy;
    }

    /** One line for the report. */
    String describe(Duration interval) {
        StringBuilder sb = new StringBuilder("metrics: every service's /q/metrics scraped every ")
                .append(interval.toSeconds()).append(" s from the warm-up of phase A on, as a Prometheus server would (");
        String sep = "";
        for (Map.Entry<String, int[]> e : outcomes().entrySet()) {
            sb.append(sep).append(e.getKey()).append(' ').append(e.getValue()[0]);
            if (e.getValue()[1] > 0) {
                sb.append(" + ").append(e.getValue()[1]).append(" failed");
            }
            sep = ", ";
        }
        return sb.append(')').toString();
    }

    @Override
    public void close() {
        timer.shutdownNow();
        try {
            timer.awaitTermination(10, TimeUnit.SECONDS);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }
}
