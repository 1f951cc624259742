package dev.agentspend.client;

/**
 * Base of what the client throws. Catch {@link PaymentDeclinedException} to handle a decline (the
 * ledger said no: caps, balance, suspension) and {@link LedgerErrorException} for failures (bad
 * request, wrong key, ledger unreachable after the retries).
 */
public abstract class AgentSpendException extends RuntimeException {
    protected AgentSpendException(String message, Throwable cause) {
        super(message, cause);
    }
}
