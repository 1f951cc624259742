package dev.agentspend.alerts.domain;

import org.junit.jupiter.api.Test;

import java.math.BigInteger;
import java.util.SplittableRandom;

import static org.junit.jupiter.api.Assertions.assertEquals;

/** {@link Exact} against its definition in BigInteger, over edge values and random ones of every size. */
class ExactTest {
    private static final long[] EDGES = {0, 1, -1, 2, -2, 1000, -1000, 3_037_000_499L, 3_037_000_500L, -3_037_000_500L,
            1L << 31, 1L << 32, (1L << 62) - 1, 1L << 62, Long.MAX_VALUE, Long.MAX_VALUE - 1, Long.MIN_VALUE,
            Long.MIN_VALUE + 1};

    @Test
    void productsCompareAsTheirExactValues() {
        SplittableRandom random = new SplittableRandom(7);
        for (int i = 0; i < 200_000; i++) {
            long a = pick(random), b = pick(random), c = pick(random), d = pick(random);
            int expected = big(a).multiply(big(b)).compareTo(big(c).multiply(big(d)));
            assertEquals(expected, Integer.signum(Exact.compareProducts(a, b, c, d)), a + "*" + b + " vs " + c + "*" + d);
        }
        for (long a : EDGES) {
            for (long b : EDGES) {
                for (long c : EDGES) {
                    for (long d : EDGES) {
                        int expected = big(a).multiply(big(b)).compareTo(big(c).multiply(big(d)));
                        assertEquals(expected, Integer.signum(Exact.compareProducts(a, b, c, d)));
                    }
                }
            }
        }
    }

    @Test
    void tripleProductsCompareAsTheirExactValues() {
        SplittableRandom random = new SplittableRandom(11);
        for (int i = 0; i < 200_000; i++) {
            long a = pick(random), b = pick(random), x = pick(random), c = pick(random), d = pick(random), y = pick(random);
            int expected = big(a).multiply(big(b)).multiply(big(x)).compareTo(big(c).multiply(big(d)).multiply(big(y)));
            assertEquals(expected, Integer.signum(Exact.compareProducts(a, b, x, c, d, y)));
        }
    }

    @Test
    void mulDivRoundsTowardZeroSaturatesAndIsZeroForNoDivisor() {
        assertEquals(333, Exact.mulDiv(1000, 1, 3));
        assertEquals(-333, Exact.mulDiv(-1000, 1, 3));
        assertEquals(Long.MAX_VALUE, Exact.mulDiv(Long.MAX_VALUE, 4, 2));
        assertEquals(Long.MIN_VALUE, Exact.mulDiv(Long.MAX_VALUE, -4, 2));
        assertEquals(Long.MAX_VALUE, Exact.mulDiv(Long.MIN_VALUE, 1, -1));
        assertEquals(0, Exact.mulDiv(5, 5, 0));
    }

    @Test
    void mulDivIsTheExactQuotientSaturated() {
        SplittableRandom random = new SplittableRandom(13);
        for (int i = 0; i < 200_000; i++) {
            long a = pick(random), b = pick(random), c = pick(random);
            assertEquals(mulDivDefinition(a, b, c), Exact.mulDiv(a, b, c), a + "*" + b + "/" + c);
        }
        for (long a : EDGES) {
            for (long b : EDGES) {
                for (long c : EDGES) {
                    assertEquals(mulDivDefinition(a, b, c), Exact.mulDiv(a, b, c), a + "*" + b + "/" + c);
                }
            }
        }
    }

    /** Values of every magnitude: small ones (the usual sums) as often as ones near the long range. */
    private static long pick(SplittableRandom random) {
        return switch (random.nextInt(4)) {
            case 0 -> random.nextLong(-2000, 2000);
            case 1 -> random.nextLong() >> random.nextInt(64);
            case 2 -> EDGES[random.nextInt(EDGES.length)] + random.nextLong(-2, 3);
            default -> random.nextLong();
        };
    }

    private static long mulDivDefinition(long a, long b, long c) {
        if (c == 0) {
            return 0;
        }
        BigInteger r = big(a).multiply(big(b)).divide(big(c));
        return r.bitLength() < 64 ? r.longValue() : (r.signum() > 0 ? Long.MAX_VALUE : Long.MIN_VALUE);
    }

    private static BigInteger big(long v) {
        return BigInteger.valueOf(v);
    }
}
