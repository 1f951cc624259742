package dev.agentspend.analytics.config;

import io.smallrye.config.ConfigMapping;
import io.smallrye.config.WithDefault;

import java.time.Duration;

/** Settings of the analytics service (prefix {@code agentspend.analytics}). */
@ConfigMapping(prefix = "agentspend.analytics")
public interface AnalyticsConfig {
    Ingest ingest();

    /** Days of the cost-per-task window (and of the previous window it is compared with). */
    @WithDefault("7")
    int costWindowDays();

    /** Recommended daily cap = average daily spend x this multiplier; 2 to 3. */
    @WithDefault("2.5")
    double capAdviceMultiplier();

    Metrics metrics();

    RetentionSettings retention();

    /** Consumption of the ledger's entry feed and identity's policy feed. */
    interface Ingest {
        /** False turns both consumers off (a read-only replica, or a benchmark over loaded aggregates). */
        @WithDefault("true")
        boolean enabled();

        /**
         * Entries applied per database transaction at most. Large enough that under load a batch is
         * whatever arrived within batch-wait: each aggregate row is written once per batch, so
         * fewer, larger batches write fewer rows per entry.
         */
        @WithDefault("5000")
        int batchSize();

        /** How long a partial batch waits for more entries before it is applied. */
        @WithDefault("200ms")
        Duration batchWait();

        /** First reconnect delay after a lost feed; doubled up to max-backoff. */
        @WithDefault("200ms")
        Duration minBackoff();

        @WithDefault("10s")
        Duration maxBackoff();

        /** How often a standby replica tries to take over the consumer lock. */
        @WithDefault("2s")
        Duration lockRetry();
    }

    /**
     * How long the fine-grained aggregates are kept (domain.Retention) and how the purge deletes
     * what is older (store.RetentionPurge). Checked when the service starts.
     */
    interface RetentionSettings {
        /**
         * Whole UTC days of minute rows kept before today (8 to 400): windows that reach further back
         * are answered from the day rows, which are kept for good, when their edges are UTC midnights.
         */
        @WithDefault("35")
        int minuteDays();

        /**
         * Days a task is kept after it completed or, never completed, after its last payment (14 to
         * 3,660); at least twice the longest cost-per-task window asked for.
         */
        @WithDefault("180")
        int taskDays();

        /** How often each replica deletes the rows older than the retention. */
        @WithDefault("10m")
        Duration purgeInterval();

        /** Rows one purge statement deletes at most (1 to 100,000): each is a short transaction of its own. */
        @WithDefault("10000")
        int purgeBatchRows();

        /**
         * Statements one purge of a table sends at most (1 to 1,000,000; then the rest waits for the
         * next interval, counted in agentspend_analytics_retention_purge_stopped_total).
         */
        @WithDefault("1000")
        int purgeMaxBatches();
    }

    /** Per-agent Prometheus gauges. */
    interface Metrics {
        /** Agents with gauges of their own (largest 7-day spend); the rest are summed as agent="other". */
        @WithDefault("20")
        int topAgents();

        /** How often the gauges are recomputed. */
        @WithDefault("15s")
        Duration refresh();
    }
}
