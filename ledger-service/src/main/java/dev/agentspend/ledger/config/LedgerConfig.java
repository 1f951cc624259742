package dev.agentspend.ledger.config;

import io.smallrye.config.ConfigMapping;
import io.smallrye.config.WithDefault;

import java.time.Duration;

/** Typed configuration of the ledger ({@code agentspend.*}). */
@ConfigMapping(prefix = "agentspend")
public interface LedgerConfig {
    Auth auth();

    Ledger ledger();

    /** Bearer tokens of the admin and of internal services. Never logged. */
    interface Auth {
        String adminToken();

        String serviceToken();
    }

    interface Ledger {
        /**
         * How long the ledger enforces the policy it has without hearing from identity's feed
         * (a change or a heartbeat). Past it, payments are declined with POLICY_UNAVAILABLE.
         */
        @WithDefault("10s")
        Duration policyStaleness();

        /** First delay before reconnecting to the policy feed; doubled after each failure. */
        @WithDefault("100ms")
        Duration policyReconnectMinBackoff();

        /** Upper bound of the reconnect delay. */
        @WithDefault("5s")
        Duration policyReconnectMaxBackoff();

        /** Time-to-live of a hold when the request gives none. */
        @WithDefault("15m")
        Duration holdDefaultTtl();

        /** The longest time-to-live a hold may ask for. */
        @WithDefault("24h")
        Duration holdMaxTtl();

        /** How often the sweeper releases expired holds (recording HOLD_EXPIRED entries). */
        @WithDefault("1s")
        Duration holdSweepInterval();

        /** How often an idle StreamEntries subscriber polls the database (other replicas' writes). */
        @WithDefault("100ms")
        Duration streamPollInterval();

        /** Entries read per database round trip by StreamEntries. */
        @WithDefault("500")
        int streamBatchSize();

        /**
         * The newest entries this replica committed that StreamEntries serves from memory (0 to
         * 1048576; 0: every read goes to the database); a subscriber further behind reads the
         * database. Subscribers at the head read a commit's entries within milliseconds, so a
         * short tail serves them: at the default (about 0.5 MB of payloads) the benchmark's
         * consumers got 99.3% of their pages from memory at 3,300 payments/s. A longer tail keeps
         * entries past young collections, which copy them (the README's benchmark notes give the
         * figures for 8192 against 1024).
         */
        @WithDefault("1024")
        int feedTailEntries();
    
        /**
         * Most payments committed in one transaction (group commit). Batches form only while an
         * earlier one is in flight, so under light load every payment commits on its own.
         */
        @WithDefault("512")
        int payBatchMax();

        /**
         * Pay transactions in flight at once. Two let one batch read and decide while the other
         * waits for its flush; more only queue on the feed position lock.
         */
        @WithDefault("2")
        int payBatchesInFlight();

        /**
         * The fewest payments that start a batch while another is in flight, counting only those
         * of agents no batch in flight holds (see PayQueue); fewer wait for a batch in flight to
         * commit. (With nothing in flight, one payment starts a batch at once.)
         */
        @WithDefault("16")
        int payBatchMinBesideAnother();

        /**
         * Requests per second one agent may make to this replica, sustained (every RPC with an
         * agent key counts). Past it the agent gets RESOURCE_EXHAUSTED with a retry delay.
         */
        @WithDefault("200")
        long agentRatePerSecond();

        /** Requests an idle agent may make at once, above its rate. */
        @WithDefault("400")
        long agentRateBurst();

        /**
         * Pay and CompleteTask calls waiting for a batch, at most. Past it they are answered
         * RESOURCE_EXHAUSTED at once rather than letting every caller's latency grow without bound.
         */
        @WithDefault("20000")
        int payQueueMax();

        /**
         * How long a request_id is remembered: a retry within it is answered with the first call's
         * response, one after it is a new call. Retries come within minutes; a week covers a client
         * that was down over a long weekend (identity keeps its request_ids as long).
         */
        @WithDefault("168h")
        Duration idempotencyRetention();

        /** How often each replica deletes the idempotency rows older than the retention. */
        @WithDefault("1m")
        Duration idempotencyPurgeInterval();

        /** Rows one purge statement deletes at most (1 to 100,000): each is a short transaction of its own. */
        @WithDefault("10000")
        int idempotencyPurgeBatchRows();

        /**
         * Statements one purge runs at most (1 to 1,000,000; then it waits for the next interval): with
         * the defaults 100,000,000 rows, more than a day of payments at 1,000 a second.
         */
        @WithDefault("10000")
        int idempotencyPurgeMaxBatches();
    }
}
