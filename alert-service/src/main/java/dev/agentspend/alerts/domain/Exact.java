package dev.agentspend.alerts.domain;

import java.math.BigInteger;

/**
 * Integer arithmetic the rules need exactly, whatever the sums: products compared without overflow,
 * and a * b / c with an exact product. Every entry evaluates every rule, so these run several times
 * per entry; BigInteger did the same work with an object per operand and per intermediate result
 * (a fifth of the alert service's allocation in the benchmark's fleet phase), so the 128-bit product
 * is taken with {@link Math#multiplyHigh} and BigInteger is left for a triple product that does not
 * fit in 64 bits.
 */
public final class Exact {
    private Exact() {
    }

    /** The sign of a * b - c * d, exact for every long (the products are compared in 128 bits). */
    public static int compareProducts(long a, long b, long c, long d) {
        long high1 = Math.multiplyHigh(a, b);
        long high2 = Math.multiplyHigh(c, d);
        if (high1 != high2) {
            return Long.compare(high1, high2);
        }
        return Long.compareUnsigned(a * b, c * d);
    }

    /** The sign of a * b * x - c * d * y, exact for every long. */
    public static int compareProducts(long a, long b, long x, long c, long d, long y) {
        if (fits(a, b) && fits(c, d)) {
            return compareProducts(a * b, x, c * d, y);
        }
        return big(a).multiply(big(b)).multiply(big(x)).compareTo(big(c).multiply(big(d)).multiply(big(y)));
    }

    /** a * b / c (rounded toward zero), exact in between, saturating at the long range; 0 when c is 0. */
    public static long mulDiv(long a, long b, long c) {
        if (c == 0) {
            return 0;
        }
        long product = a * b;
        // Long.MIN_VALUE / -1 is the one quotient of a fitting product that does not fit
        if (fits(a, b) && !(product == Long.MIN_VALUE && c == -1)) {
            return product / c;
        }
        BigInteger r = big(a).multiply(big(b)).divide(big(c));
        return r.bitLength() < 64 ? r.longValue() : (r.signum() > 0 ? Long.MAX_VALUE : Long.MIN_VALUE);
    }

    /** Whether a * b fits in a long: the high half of the 128-bit product is the low half's sign. */
    static boolean fits(long a, long b) {
        return Math.multiplyHigh(a, b) == (a * b) >> 63;
    }

    private static BigInteger big(long v) {
        return BigInteger.valueOf(v);
    }
}
