package dev.agentspend.alerts.domain;

import java.util.Map;
import java.util.Set;
import java.util.SortedSet;

/**
 * What a batch changed of one agent's rule state: the state (its head is always written), the
 * buckets to write and the buckets pruned, the open tasks to write and those no longer open. Old
 * buckets never change again, and most open tasks are not paid in a given batch, so a batch writes
 * the few rows its entries touched rather than the agent's whole day of buckets and every open task.
 */
public record AgentChanges(AgentState state, SortedSet<Long> writtenBuckets, SortedSet<Long> deletedBuckets,
                           Map<String, AgentState.OpenTask> writtenTasks, Set<String> deletedTasks) {
}
