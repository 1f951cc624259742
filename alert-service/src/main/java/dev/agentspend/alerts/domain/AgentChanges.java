package dev.agentspend.alerts.domain;

import java.util.SortedSet;

/**
 * What a batch changed of one agent's rule state: the state (its head is always written), the
 * buckets to write and the buckets pruned. Old buckets never change again, so a batch writes the
 * one or two its entries fell into rather than the agent's whole day of them.
 */
public record AgentChanges(AgentState state, SortedSet<Long> writtenBuckets, SortedSet<Long> deletedBuckets) {
}
