package dev.agentspend.ledger.grpc;

import dev.agentspend.common.error.ApiException;
import dev.agentspend.ledger.config.LedgerConfig;
import dev.agentspend.ledger.domain.TokenBucket;
import jakarta.enterprise.context.ApplicationScoped;
import jakarta.inject.Inject;

import java.time.Duration;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.function.LongSupplier;

/**
 * Per-agent request rate limit (one token bucket per agent and replica), so that one runaway
 * agent cannot fill the payment queue and starve the others. Checked before anything is read or
 * written: a refused call changes nothing and says, in RetryInfo, when to try again. Buckets exist
 * only for agents that authenticated, so there are at most as many as agents with keys.
 */
@ApplicationScoped
public class AgentRateLimits {
    private final Map<String, TokenBucket> buckets = new ConcurrentHashMap<>();
    LongSupplier nanoTime = System::nanoTime;

    @Inject
    LedgerConfig config;

    void admit(String agentId) {
        long rate = config.ledger().agentRatePerSecond();
        long burst = config.ledger().agentRateBurst();
        long now = nanoTime.getAsLong();
        long waitNanos = buckets.computeIfAbsent(agentId, id -> new TokenBucket(rate, burst, now)).tryTake(now);
        if (waitNanos > 0) {
            Duration wait = Duration.ofNanos(waitNanos);
            throw ApiException.exhausted("AGENT_RATE_LIMITED", "agent '" + agentId + "' is over its request rate ("
                    + rate + " per second, bursts of " + burst + "); retry after " + Math.max(1, wait.toMillis())
                    + " ms with the same request_id", wait);
        }
    }
}
