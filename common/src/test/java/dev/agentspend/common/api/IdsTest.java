package dev.agentspend.common.api;

import org.junit.jupiter.api.Test;

import java.util.BitSet;
import java.util.HashSet;
import java.util.Set;
import java.util.SplittableRandom;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

class IdsTest {
    private static final String ALPHABET = "abcdefghijklmnopqrstuvwxyz234567";

    @Test
    void everyLengthHasThatManyCharactersOfTheAlphabet() {
        for (int length = 1; length <= 64; length++) {
            String id = Ids.randomBase32(length);
            assertEquals(length, id.length());
            for (char c : id.toCharArray()) {
                assertTrue(ALPHABET.indexOf(c) >= 0, "'" + c + "' in " + id);
            }
        }
    }

    /**
     * Every position draws from all 32 characters: a lost or stuck bit in the packing would leave
     * some characters out at some position. (The chance that a fair position misses one character
     * in 4,000 ids is 32 * (31/32)^4000, about 1e-54.)
     */
    @Test
    void everyPositionUsesTheWholeAlphabet() {
        int length = 26;
        BitSet[] seen = new BitSet[length];
        for (int i = 0; i < length; i++) {
            seen[i] = new BitSet(32);
        }
        for (int n = 0; n < 4_000; n++) {
            String id = Ids.randomBase32(length);
            for (int i = 0; i < length; i++) {
                seen[i].set(ALPHABET.indexOf(id.charAt(i)));
            }
        }
        for (int i = 0; i < length; i++) {
            assertEquals(32, seen[i].cardinality(), "characters seen at position " + i);
        }
    }

    @Test
    void newIdsArePrefixedAndDistinct() {
        Set<String> ids = new HashSet<>();
        for (int n = 0; n < 10_000; n++) {
            String id = Ids.newId("ent");
            assertTrue(id.matches("ent_[a-z2-7]{26}"), id);
            assertTrue(Ids.isWellFormed(id, "ent"), id);
            ids.add(id);
        }
        assertEquals(10_000, ids.size());
    }

    @Test
    void onlyTheShapeNewIdGivesIsWellFormed() {
        String tail = "abcdefghijklmnopqrstuvwxy7";
        assertTrue(Ids.isWellFormed("ent_" + tail, "ent"));
        for (String bad : new String[]{null, "", "ent_", "ent_" + tail + "a", "ent_" + tail.substring(1),
                "agt_" + tail, "entx" + tail, "ent_" + tail.replace('7', '8'), "ent_" + tail.replace('a', 'A'),
                "ent_" + tail.replace('b', '\''), "ent_" + tail.replace('c', ' ')}) {
            assertFalse(Ids.isWellFormed(bad, "ent"), String.valueOf(bad));
        }
    }

    @Test
    void lengthsOutsideOneTo64AreRefused() {
        assertThrows(IllegalArgumentException.class, () -> Ids.randomBase32(0));
        assertThrows(IllegalArgumentException.class, () -> Ids.randomBase32(65));
    }

    @Test
    void timeOrderedIdsSortAsTheirTimesDoAndHaveNewIdsShape() {
        SplittableRandom random = new SplittableRandom(3);
        long[] times = new long[2_000];
        for (int i = 0; i < times.length; i++) {
            // near now, across character boundaries, and the extremes
            times[i] = switch (i % 4) {
                case 0 -> 1_796_000_000_000L + random.nextLong(1_000_000);
                case 1 -> random.nextLong(1L << 50);
                case 2 -> (1L << (5 * random.nextInt(1, 10))) - random.nextInt(0, 2);
                default -> i % 8 == 3 ? 0 : (1L << 50) - 1;
            };
        }
        for (int i = 1; i < times.length; i++) {
            String a = Ids.newTimeOrderedId("ent", times[i - 1]);
            String b = Ids.newTimeOrderedId("ent", times[i]);
            assertTrue(Ids.isWellFormed(a, "ent"), a);
            if (times[i - 1] != times[i]) {
                assertEquals(Long.signum(Long.compare(times[i - 1], times[i])), Integer.signum(a.compareTo(b)),
                        times[i - 1] + " vs " + times[i] + ": " + a + " vs " + b);
            }
        }
        Set<String> sameMilli = new HashSet<>();
        for (int i = 0; i < 1_000; i++) {
            sameMilli.add(Ids.newTimeOrderedId("ent", 1_796_000_000_000L));
        }
        assertEquals(1_000, sameMilli.size(), "80 random bits after the time");
        assertThrows(IllegalArgumentException.class, () -> Ids.newTimeOrderedId("ent", -1));
        assertThrows(IllegalArgumentException.class, () -> Ids.newTimeOrderedId("ent", 1L << 50));
    }
}
