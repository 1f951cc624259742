package dev.agentspend.alerts.config;

import dev.agentspend.alerts.store.StateFormat;
import io.smallrye.config.ConfigMapping;
import io.smallrye.config.WithDefault;

import java.time.Duration;

/** Settings of the alert service (`agentspend.alerts.*`). */
@ConfigMapping(prefix = "agentspend.alerts")
public interface AlertsConfig {
    /** Size of the rule state's time buckets; windows are counted in whole buckets. */
    @WithDefault("60")
    int bucketSeconds();

    /**
     * Most entries evaluated and committed in one transaction; this many waiting start a batch
     * without waiting for {@code batch-linger}. Room for the linger at 10,000 entries per second.
     */
    @WithDefault("5000")
    int batchSize();

    /**
     * Least time between the starts of two batches while entries keep arriving: each agent's state
     * is then written once per linger instead of once per ledger commit. The price is up to this much
     * more detection latency under load; 0 starts a batch as soon as the previous one has committed.
     */
    @WithDefault("250ms")
    Duration batchLinger();

    /** How often open alerts are re-evaluated so that cleared conditions resolve without new entries. */
    @WithDefault("5s")
    Duration sweepInterval();

    /** How often a standby replica tries to take the consumer lock, and the delay before a restart. */
    @WithDefault("2s")
    Duration leaderRetry();

    /** How often WatchAlerts streams look for events committed by another replica. */
    @WithDefault("250ms")
    Duration watchPollInterval();

    /**
     * The form the consumer writes rule state in: BINARY (the default), or JSON, which releases
     * before this one read and which a rollback to one of them needs (a consumer that starts with
     * JSON rewrites every row stored in the binary form; see the README's Upgrading section).
     */
    @WithDefault("binary")
    StateFormat stateFormat();

    Webhooks webhooks();

    Suspensions suspensions();

    interface Webhooks {
        /**
         * Base64 of 32 random bytes: the AES-256-GCM key webhook secrets are encrypted with.
         * Never logged. AGENTSPEND_WEBHOOK_KEY.
         */
        String secretKey();

        @WithDefault("200ms")
        Duration pollInterval();

        /** First retry delay of a failed delivery; doubled per failed attempt up to max-backoff. */
        @WithDefault("1s")
        Duration baseBackoff();

        /** The longest retry delay: a receiver that comes back is tried again at most this much later. */
        @WithDefault("5m")
        Duration maxBackoff();

        /**
         * A delivery is abandoned (FAILED, the endpoint moves on) only by an attempt that fails this long
         * after its event: a receiver down for less gets every event (see DeliveryRetry).
         */
        @WithDefault("72h")
        Duration giveUpAfter();

        @WithDefault("10s")
        Duration requestTimeout();
    }

    interface Suspensions {
        @WithDefault("250ms")
        Duration pollInterval();

        @WithDefault("1s")
        Duration baseBackoff();

        @WithDefault("5m")
        Duration maxBackoff();

        /**
         * Attempts before a suspension that keeps failing with a transient status is given up
         * (FAILED): with the backoff at its 5-minute cap, 900 is about three days, the horizon of
         * webhook deliveries; 50 gave up after about 3.5 hours of an identity outage.
         */
        @WithDefault("900")
        int maxAttempts();
    }
}
