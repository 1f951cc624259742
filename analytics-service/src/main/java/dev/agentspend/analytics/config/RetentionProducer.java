package dev.agentspend.analytics.config;

import dev.agentspend.analytics.domain.Retention;
import jakarta.enterprise.context.ApplicationScoped;
import jakarta.enterprise.inject.Produces;
import jakarta.inject.Singleton;

/** The retention of the fine-grained aggregates, from agentspend.analytics.retention.*; out of range stops the start. */
@ApplicationScoped
public class RetentionProducer {
    @Produces
    @Singleton
    Retention retention(AnalyticsConfig config) {
        AnalyticsConfig.RetentionSettings s = config.retention();
        Retention r = new Retention(s.minuteDays(), s.taskDays());
        if (config.costWindowDays() < 1 || config.costWindowDays() > r.maxCostWindowDays()) {
            throw new IllegalArgumentException("agentspend.analytics.cost-window-days must be 1 to "
                    + r.maxCostWindowDays() + " with tasks kept " + s.taskDays()
                    + " days (agentspend.analytics.retention.task-days): the previous window must still be there, not "
                    + config.costWindowDays());
        }
        return r;
    }
}
