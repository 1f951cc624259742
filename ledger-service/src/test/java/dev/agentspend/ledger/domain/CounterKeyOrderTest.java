package dev.agentspend.ledger.domain;

import org.junit.jupiter.api.Test;

import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Random;

import static org.junit.jupiter.api.Assertions.assertEquals;

/** Counters are locked in {@link CounterKey#ORDER}: scope, then bucket, then tool, each as String.compareTo. */
class CounterKeyOrderTest {
    private static final Comparator<CounterKey> BY_FIELDS = Comparator.comparing(CounterKey::scopeId)
            .thenComparing(CounterKey::bucket).thenComparing(CounterKey::tool);

    @Test
    void ordersByScopeThenBucketThenTool() {
        Random random = new Random(8);
        String[] scopes = {"agt_a", "agt_b", "team_a", "agt_ab"};
        String[] buckets = {"H:2026-11-30:04", "D:2026-11-30", "W:2026-W49", "M:2026-11", "L", "T:task"};
        String[] tools = {"", "openai/chat", "search", "Search"};
        List<CounterKey> keys = new ArrayList<>();
        for (int i = 0; i < 2_000; i++) {
            keys.add(new CounterKey(scopes[random.nextInt(scopes.length)], buckets[random.nextInt(buckets.length)],
                    tools[random.nextInt(tools.length)]));
        }
        for (int i = 0; i + 1 < keys.size(); i++) {
            CounterKey a = keys.get(i);
            CounterKey b = keys.get(i + 1);
            assertEquals(Integer.signum(BY_FIELDS.compare(a, b)), Integer.signum(CounterKey.ORDER.compare(a, b)), a + " vs " + b);
        }
    }
}
