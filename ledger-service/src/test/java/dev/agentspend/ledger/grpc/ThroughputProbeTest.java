package dev.agentspend.ledger.grpc;

import dev.agentspend.ledger.support.Fixture;
import dev.agentspend.ledger.support.Fixture.TestAgent;
import dev.agentspend.ledger.support.LedgerTestResource;
import dev.agentspend.proto.identity.v1.SpendingPolicy;
import dev.agentspend.proto.identity.v1.CapWindow;
import io.quarkus.test.common.QuarkusTestResource;
import io.quarkus.test.junit.QuarkusTest;
import org.junit.jupiter.api.Test;

import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.*;
import java.util.concurrent.atomic.AtomicLong;

import static dev.agentspend.ledger.support.Fixture.cap;
import static dev.agentspend.ledger.support.Fixture.pay;

@QuarkusTest
@QuarkusTestResource(value = LedgerTestResource.class, restrictToAnnotatedClass = true)
class ThroughputProbeTest {
    @Test
    void probe() throws Exception {
        int nAgents = Integer.getInteger("probe.agents", 200);
        int clients = Integer.getInteger("probe.clients", 64);
        int seconds = Integer.getInteger("probe.seconds", 30);
        List<TestAgent> agents = new ArrayList<>();
        for (int i = 0; i < nAgents; i++) {
            agents.add(Fixture.newAgent(null, SpendingPolicy.newBuilder().addCaps(cap(CapWindow.CAP_WINDOW_DAY, 1_000_000_000_000L, true)).build(), 1_000_000_000_000L));
        }
        for (TestAgent a : agents) a.ledger().pay(pay(1).build());
        System.out.println("PROBE pid " + ProcessHandle.current().pid());
        for (int phase = 0; phase < 2; phase++) {
            AtomicLong n = new AtomicLong();
            long end = System.nanoTime() + seconds * 1_000_000_000L;
            ExecutorService pool = Executors.newFixedThreadPool(clients);
            List<Future<?>> fs = new ArrayList<>();
            final int ph = phase;
            for (int c = 0; c < clients; c++) {
                fs.add(pool.submit(() -> {
                    while (System.nanoTime() < end) {
                        TestAgent a = ph == 0 ? agents.get(ThreadLocalRandom.current().nextInt(agents.size())) : agents.get(0);
                        a.ledger().pay(pay(1000).build());
                        n.incrementAndGet();
                    }
                    return null;
                }));
            }
            for (Future<?> f : fs) f.get();
            pool.shutdown();
            System.out.println("PROBE phase " + phase + " payments/s " + n.get() / seconds);
        }
    }
}
