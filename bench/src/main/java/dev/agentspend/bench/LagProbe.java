package dev.agentspend.bench;

import dev.agentspend.proto.analytics.v1.AnalyticsServiceGrpc;
import dev.agentspend.proto.analytics.v1.GetIngestionStatusRequest;

import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.TimeUnit;
import java.util.function.Supplier;

/**
 * Samples, every {@code interval}, the ledger's head (the largest committed feed position, read from
 * {@code ledger.entries}), analytics' visible position (its {@code GetIngestionStatus}, which reads
 * the position committed with its aggregates) and the alert service's committed consumer position
 * ({@code alerts.consumer_state}, the value behind its {@code agentspend_alerts_feed_position}
 * gauge; read from the database rather than by scraping /q/metrics every few milliseconds, which
 * would load the service being measured). {@link LagCalculator} turns the samples into lags.
 *
 * <p>Every fourth sample during the measured window it also counts what the ledger's database
 * sessions are doing ({@code pg_stat_activity}: state and wait event), which tells where a payment's
 * time goes when the ledger is not busy on CPU: waiting on a lock, on the WAL flush, on the client.
 */
final class LagProbe implements AutoCloseable {
    private final Supplier<Connection> connections;
    private final AnalyticsServiceGrpc.AnalyticsServiceBlockingStub analytics;
    private final Duration interval;
    private final List<LagCalculator.Head> heads = new ArrayList<>();
    private final List<LagCalculator.Seen> analyticsSeen = new ArrayList<>();
    private final List<LagCalculator.Seen> alertsSeen = new ArrayList<>();
    private final List<String> problems = new ArrayList<>();
    private final Map<String, Long> sessionCounts = new TreeMap<>();
    private int sessionSnapshots;
    private volatile boolean recordHeads;
    private volatile boolean stop;
    private Thread thread;

    LagProbe(Supplier<Connection> connections, AnalyticsServiceGrpc.AnalyticsServiceBlockingStub analytics,
             Duration interval) {
        this.connections = connections;
        this.analytics = analytics;
        this.interval = interval;
    }

    void start() {
        thread = new Thread(this::loop, "lag-probe");
        thread.setDaemon(true);
        thread.start();
    }

    /** Heads are taken as lag samples only while recording (the measured window); positions always. */
    void recordHeads(boolean on) {
        recordHeads = on;
    }

    private void loop() {
        try (Connection c = connections.get();
             PreparedStatement head = c.prepareStatement("SELECT coalesce(max(position), 0) FROM ledger.entries");
             PreparedStatement alerts = c.prepareStatement("SELECT position FROM alerts.consumer_state");
             PreparedStatement waits = c.prepareStatement("SELECT state || ' ' || coalesce(wait_event_type || ':' || wait_event,"
                     + " 'on CPU'), count(*) FROM pg_stat_activity WHERE application_name = 'ledger-service'"
                     + " AND state <> 'idle' GROUP BY 1")) {
            long next = System.nanoTime();
            int round = 0;
            while (!stop) {
                if (recordHeads && round++ % 4 == 0) {
                    sessions(waits);
                }
                long headPosition = single(head);
                long headNanos = System.nanoTime();
                long analyticsPosition = -1;
                try {
                    analyticsPosition = analytics.withDeadlineAfter(2, TimeUnit.SECONDS)
                            .getIngestionStatus(GetIngestionStatusRequest.getDefaultInstance()).getLedgerPosition();
                } catch (RuntimeException e) {
                    problem("analytics GetIngestionStatus: " + e.getMessage());
                }
                long analyticsNanos = System.nanoTime();
                long alertsPosition = single(alerts);
                long alertsNanos = System.nanoTime();
                synchronized (this) {
                    if (recordHeads) {
                        heads.add(new LagCalculator.Head(headNanos, headPosition));
                    }
                    if (analyticsPosition >= 0) {
                        analyticsSeen.add(new LagCalculator.Seen(analyticsNanos, analyticsPosition));
                    }
                    alertsSeen.add(new LagCalculator.Seen(alertsNanos, alertsPosition));
                }
                next += interval.toNanos();
                long sleep = next - System.nanoTime();
                if (sleep > 0) {
                    TimeUnit.NANOSECONDS.sleep(sleep);
                } else {
                    next = System.nanoTime();
                }
            }
        } catch (SQLException | RuntimeException e) {
            problem("position sampling stopped: " + e.getMessage());
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }

    /** One snapshot of what the ledger's database sessions are doing (pg_stat_activity). */
    private void sessions(PreparedStatement waits) throws SQLException {
        Map<String, Long> now = new TreeMap<>();
        try (ResultSet rs = waits.executeQuery()) {
            while (rs.next()) {
                now.put(rs.getString(1), rs.getLong(2));
            }
        }
        synchronized (this) {
            sessionSnapshots++;
            now.forEach((k, v) -> sessionCounts.merge(k, v, Long::sum));
        }
    }

    /** Average number of the ledger's non-idle sessions per state and wait event over the snapshots. */
    synchronized Map<String, Double> ledgerSessions() {
        Map<String, Double> out = new LinkedHashMap<>();
        sessionCounts.entrySet().stream().sorted(Map.Entry.<String, Long>comparingByValue().reversed())
                .forEach(e -> out.put(e.getKey(), (double) e.getValue() / sessionSnapshots));
        return out;
    }

    synchronized int sessionSnapshots() {
        return sessionSnapshots;
    }

    private static long single(PreparedStatement s) throws SQLException {
        try (ResultSet rs = s.executeQuery()) {
            return rs.next() ? rs.getLong(1) : 0;
        }
    }

    private synchronized void problem(String p) {
        if (problems.size() < 5) {
            problems.add(p);
        }
    }

    /** The last head recorded, or 0. */
    synchronized long lastHead() {
        return heads.isEmpty() ? 0 : heads.get(heads.size() - 1).position();
    }

    synchronized long lastAnalytics() {
        return analyticsSeen.isEmpty() ? -1 : analyticsSeen.get(analyticsSeen.size() - 1).position();
    }

    synchronized long lastAlerts() {
        return alertsSeen.isEmpty() ? -1 : alertsSeen.get(alertsSeen.size() - 1).position();
    }

    /** Waits (bounded) until both consumers have reached the last recorded head. */
    boolean awaitCaughtUp(Duration timeout) throws InterruptedException {
        long deadline = System.nanoTime() + timeout.toNanos();
        long target = lastHead();
        while (System.nanoTime() < deadline) {
            if (lastAnalytics() >= target && lastAlerts() >= target) {
                return true;
            }
            Thread.sleep(50);   // poll interval of this deadline-bounded wait
        }
        return false;
    }

    synchronized int samples() {
        return heads.size();
    }

    synchronized LagCalculator.Lags analyticsLag() {
        return LagCalculator.lags(List.copyOf(heads), List.copyOf(analyticsSeen));
    }

    synchronized LagCalculator.Lags alertsLag() {
        return LagCalculator.lags(List.copyOf(heads), List.copyOf(alertsSeen));
    }

    synchronized List<String> problems() {
        return List.copyOf(problems);
    }

    Duration interval() {
        return interval;
    }

    @Override
    public void close() throws InterruptedException {
        stop = true;
        if (thread != null) {
            thread.join(5_000);
        }
    }
}
