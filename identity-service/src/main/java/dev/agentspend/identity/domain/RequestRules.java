package dev.agentspend.identity.domain;

import dev.agentspend.common.error.Violations;
import dev.agentspend.proto.identity.v1.AgentMode;
import dev.agentspend.proto.identity.v1.CreateAgentRequest;
import dev.agentspend.proto.identity.v1.CreateApiKeyRequest;
import dev.agentspend.proto.identity.v1.CreateTeamRequest;
import dev.agentspend.proto.identity.v1.SetAgentPolicyRequest;
import dev.agentspend.proto.identity.v1.SetTeamPolicyRequest;
import dev.agentspend.proto.identity.v1.UpdateAgentRequest;

import java.time.Instant;
import java.util.HashSet;
import java.util.List;
import java.util.Set;

/**
 * Validation of each request on its own, before anything is read or written. Rules that need
 * stored state (the agent's currency for a new policy, a team's existence) run in the store.
 * Every method throws INVALID_ARGUMENT listing all violations.
 */
public final class RequestRules {
    /** The fields UpdateAgent can replace. */
    public static final List<String> UPDATABLE_AGENT_FIELDS =
            List.of("display_name", "team_id", "labels", "mode", "working_hours");

    private RequestRules() {
    }

    public static void createAgent(CreateAgentRequest r, Instant now) {
        Violations v = new Violations();
        FieldRules.requestId(r.getRequestId(), v);
        FieldRules.handle(r.getHandle(), "handle", v);
        FieldRules.displayName(r.getDisplayName(), "display_name", v);
        FieldRules.optionalReference(r.getTeamId(), "team_id", v);
        FieldRules.labels(r.getLabelsMap(), "labels", v);
        mode(r.getMode(), v);
        FieldRules.currency(r.getCurrencyCode(), "currency_code", v);
        PolicyRules.check(r.getPolicy(), r.getCurrencyCode(), now, "policy", v);
        WorkingHoursRules.check(r.getWorkingHours(), "working_hours", v);
        TimeRules.checkFuture(r.hasKeyExpireTime(), r.getKeyExpireTime(), now, "key_expire_time", false, v);
        v.throwIfAny();
    }

    public static void updateAgent(UpdateAgentRequest r) {
        Violations v = new Violations();
        FieldRules.requestId(r.getRequestId(), v);
        FieldRules.reference(r.getAgentId(), "agent_id", v);
        FieldRules.expectedVersion(r.getExpectedVersion(), v);
        if (r.getUpdateMaskCount() == 0) {
            v.add("update_mask", "name at least one of " + UPDATABLE_AGENT_FIELDS);
        } else if (r.getUpdateMaskCount() > Limits.MAX_UPDATE_MASK_ENTRIES) {
            v.add("update_mask", "at most " + Limits.MAX_UPDATE_MASK_ENTRIES + " entries are allowed");
        }
        Set<String> mask = new HashSet<>();
        for (int i = 0; i < r.getUpdateMaskCount() && i < Limits.MAX_UPDATE_MASK_ENTRIES; i++) {
            String field = r.getUpdateMask(i);
            if (!UPDATABLE_AGENT_FIELDS.contains(field)) {
                v.add("update_mask[" + i + "]", "'" + dev.agentspend.common.api.Fields.printable(field)
                        + "' cannot be updated; allowed: " + UPDATABLE_AGENT_FIELDS);
            } else if (!mask.add(field)) {
                v.add("update_mask[" + i + "]", "'" + field + "' is named twice");
            }
        }
        if (mask.contains("display_name")) {
            FieldRules.displayName(r.getDisplayName(), "display_name", v);
        }
        if (mask.contains("team_id")) {
            FieldRules.optionalReference(r.getTeamId(), "team_id", v);
        }
        if (mask.contains("labels")) {
            FieldRules.labels(r.getLabelsMap(), "labels", v);
        }
        if (mask.contains("mode")) {
            mode(r.getMode(), v);
        }
        if (mask.contains("working_hours")) {
            WorkingHoursRules.check(r.getWorkingHours(), "working_hours", v);
        }
        v.throwIfAny();
    }

    /** Suspend, reinstate and revoke share their shape. */
    public static void statusChange(String requestId, String agentId, String reason) {
        Violations v = new Violations();
        FieldRules.requestId(requestId, v);
        FieldRules.reference(agentId, "agent_id", v);
        FieldRules.text(reason, Limits.MAX_REASON_LENGTH, "reason", v);
        v.throwIfAny();
    }

    /** The policy itself is checked against the agent's currency once the agent is loaded. */
    public static void setAgentPolicy(SetAgentPolicyRequest r) {
        Violations v = new Violations();
        FieldRules.requestId(r.getRequestId(), v);
        FieldRules.reference(r.getAgentId(), "agent_id", v);
        FieldRules.expectedVersion(r.getExpectedVersion(), v);
        v.throwIfAny();
    }

    public static void createTeam(CreateTeamRequest r, Instant now) {
        Violations v = new Violations();
        FieldRules.requestId(r.getRequestId(), v);
        FieldRules.handle(r.getName(), "name", v);
        FieldRules.displayName(r.getDisplayName(), "display_name", v);
        FieldRules.currency(r.getCurrencyCode(), "currency_code", v);
        CapRules.check(r.getCapsList(), r.getCurrencyCode(), false, now, "caps", v);
        v.throwIfAny();
    }

    public static void setTeamPolicy(SetTeamPolicyRequest r) {
        Violations v = new Violations();
        FieldRules.requestId(r.getRequestId(), v);
        FieldRules.reference(r.getTeamId(), "team_id", v);
        FieldRules.expectedVersion(r.getExpectedVersion(), v);
        v.throwIfAny();
    }

    public static void createApiKey(CreateApiKeyRequest r, Instant now) {
        Violations v = new Violations();
        FieldRules.requestId(r.getRequestId(), v);
        FieldRules.reference(r.getAgentId(), "agent_id", v);
        FieldRules.text(r.getDescription(), Limits.MAX_DESCRIPTION_LENGTH, "description", v);
        TimeRules.checkFuture(r.hasExpireTime(), r.getExpireTime(), now, "expire_time", false, v);
        v.throwIfAny();
    }

    public static void revokeApiKey(String requestId, String keyId, String reason) {
        Violations v = new Violations();
        FieldRules.requestId(requestId, v);
        FieldRules.reference(keyId, "key_id", v);
        FieldRules.text(reason, Limits.MAX_REASON_LENGTH, "reason", v);
        v.throwIfAny();
    }

    private static void mode(AgentMode mode, Violations v) {
        v.check(mode == AgentMode.AGENT_MODE_SANDBOX || mode == AgentMode.AGENT_MODE_PRODUCTION, "mode",
                "must be SANDBOX or PRODUCTION");
    }
}
