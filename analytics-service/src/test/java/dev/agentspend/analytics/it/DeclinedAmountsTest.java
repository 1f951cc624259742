package dev.agentspend.analytics.it;

import dev.agentspend.analytics.support.AnalyticsTestResource;
import dev.agentspend.proto.analytics.v1.GetToolAttributionRequest;
import dev.agentspend.proto.analytics.v1.ToolSpend;
import dev.agentspend.proto.identity.v1.SpendingPolicy;
import dev.agentspend.proto.identity.v1.WorkingHours;
import dev.agentspend.proto.ledger.v1.Decision;
import dev.agentspend.proto.ledger.v1.Entry;
import dev.agentspend.proto.ledger.v1.PayRequest;
import io.quarkus.test.common.QuarkusTestResource;
import io.quarkus.test.junit.QuarkusTest;
import org.junit.jupiter.api.Test;

import java.time.Instant;
import java.time.temporal.ChronoUnit;
import java.util.List;
import java.util.Map;

import static dev.agentspend.analytics.support.Platform.*;
import static org.junit.jupiter.api.Assertions.assertEquals;

/**
 * The ledger declines any positive amount without moving money, so an agent can ask for the largest
 * amount again and again: analytics must keep ingesting (the sums of amounts declined saturate) and
 * keep answering reads over those rows.
 */
@QuarkusTest
@QuarkusTestResource(value = AnalyticsTestResource.class, restrictToAnnotatedClass = false)
class DeclinedAmountsTest {
    @Test
    void declinesOfTheLargestAmountNeitherStopIngestionNorFailReads() {
        Agent agent = createAgent("declines", "", Map.of(), SpendingPolicy.getDefaultInstance(),
                WorkingHours.getDefaultInstance(), 0);
        Instant now = Instant.now();
        // two minutes already rolled up (the late path adds to the day row), then the current minute;
        // each call ingested before the next, so each is added to rows that exist
        List<Instant> occurred = List.of(now.minus(6, ChronoUnit.MINUTES), now.minus(5, ChronoUnit.MINUTES), now);
        for (int i = 0; i < occurred.size(); i++) {
            Entry e = ledgerAs(agent).pay(PayRequest.newBuilder().setRequestId(agent.handle() + "-" + i)
                    .setAmountMicros(Long.MAX_VALUE).setCurrencyCode("USD").setTool("huge")
                    .setOccurredTime(ts(occurred.get(i))).build()).getEntry();
            assertEquals(Decision.DECISION_DECLINED, e.getDecision(), e.toString());
            awaitIngested(e.getPosition());
        }
        Instant start = now.truncatedTo(ChronoUnit.DAYS).minus(1, ChronoUnit.DAYS);
        List<ToolSpend> tools = analyticsAdmin().getToolAttribution(GetToolAttributionRequest.newBuilder()
                .setAgentId(agent.id()).setStartTime(ts(start)).setEndTime(ts(start.plus(3, ChronoUnit.DAYS))).build())
                .getToolsList();
        assertEquals(1, tools.size(), tools.toString());
        assertEquals(3, tools.get(0).getDeclineCount());
        assertEquals(0, tools.get(0).getSpendMicros());
    }
}
