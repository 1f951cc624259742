package dev.agentspend.ledger.store;

import dev.agentspend.common.error.ApiException;

/**
 * A payment of a batch refused before anything of it was decided or written (an amount whose sum
 * with its window would overflow int64): the batch answers this call with {@link #refusal} and
 * goes on. Thrown as the refusal itself, it failed the whole batch, whose every payment was then
 * committed one transaction at a time, so one caller could slow every other.
 */
final class RefusedBeforeDeciding extends RuntimeException {
    private final ApiException refusal;

    RefusedBeforeDeciding(ApiException refusal) {
        super(refusal.getMessage(), refusal, false, false);
        this.refusal = refusal;
    }

    ApiException refusal() {
        return refusal;
    }
}
