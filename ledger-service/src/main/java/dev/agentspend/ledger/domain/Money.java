package dev.agentspend.ledger.domain;

import dev.agentspend.common.error.ApiException;
import dev.agentspend.common.error.ErrorCode;

/** int64 micro-unit arithmetic that refuses overflow with a message a person can act on. */
public final class Money {
    private Money() {
    }

    public static long add(long a, long b, String what) {
        try {
            return Math.addExact(a, b);
        } catch (ArithmeticException e) {
            throw ApiException.of(ErrorCode.FAILED_PRECONDITION, "AMOUNT_OVERFLOW",
                    "the amount would overflow " + what + " (int64 micro-units, at most "
                            + Long.MAX_VALUE + "); use a smaller amount");
        }
    }

    public static long subtract(long a, long b, String what) {
        try {
            return Math.subtractExact(a, b);
        } catch (ArithmeticException e) {
            throw ApiException.of(ErrorCode.FAILED_PRECONDITION, "AMOUNT_OVERFLOW",
                    "the amount would overflow " + what + " (int64 micro-units); use a smaller amount");
        }
    }
}
