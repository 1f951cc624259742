package dev.agentspend.ledger.domain;

import java.time.Instant;

/**
 * A cap an authorization would exceed.
 *
 * @param used      spent + held in the window before the authorization
 * @param headroom  max(0, limit - used): what was still allowed
 * @param windowEnd end of a calendar window (null otherwise)
 */
public record Breach(Scope scope, Window window, boolean hard, String tool, long limit, long used, long headroom,
                     Instant windowEnd) {
}
