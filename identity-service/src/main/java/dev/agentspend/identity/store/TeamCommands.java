package dev.agentspend.identity.store;

import dev.agentspend.common.api.Ids;
import dev.agentspend.common.error.ApiException;
import dev.agentspend.common.error.ErrorCode;
import dev.agentspend.common.error.Violations;
import dev.agentspend.identity.domain.CapRules;
import dev.agentspend.identity.domain.Caller;
import dev.agentspend.proto.identity.v1.CreateTeamRequest;
import dev.agentspend.proto.identity.v1.SetTeamPolicyRequest;
import dev.agentspend.proto.identity.v1.Team;
import io.smallrye.mutiny.Uni;
import jakarta.enterprise.context.ApplicationScoped;
import jakarta.inject.Inject;

import java.util.function.UnaryOperator;

/** Creating teams and replacing their caps. */
@ApplicationScoped
public class TeamCommands {
    @Inject
    WriteTransactions writes;

    public Uni<Team> create(Caller caller, CreateTeamRequest r) {
        return writes.idempotent("CreateTeam", r.getRequestId(), r, Team.parser(), UnaryOperator.identity(),
                tx -> TeamRows.nameExists(tx.db(), r.getName())
                        .invoke(exists -> {
                            if (exists) {
                                throw ApiException.of(ErrorCode.ALREADY_EXISTS, "TEAM_NAME_TAKEN",
                                        "a team named '" + r.getName() + "' exists already");
                            }
                        })
                        .chain(() -> {
                            Team team = Team.newBuilder().setId(Ids.newId("team")).setName(r.getName())
                                    .setDisplayName(r.getDisplayName()).setCurrencyCode(r.getCurrencyCode())
                                    .addAllCaps(r.getCapsList()).setCreateTime(Times.toProto(tx.now()))
                                    .setUpdateTime(Times.toProto(tx.now())).setVersion(1).build();
                            return TeamRows.insert(tx.db(), team)
                                    .chain(() -> AuditLog.append(tx.db(), tx.now(), new AuditLog.Entry(caller.actor(),
                                            "team.create", "team", team.getId(), null, team, "", r.getRequestId())))
                                    .chain(() -> PolicyChanges.appendTeam(tx.db(), team, tx.now()))
                                    .replaceWith(team);
                        }));
    }

    public Uni<Team> setPolicy(Caller caller, SetTeamPolicyRequest r) {
        return writes.idempotent("SetTeamPolicy", r.getRequestId(), r, Team.parser(), UnaryOperator.identity(),
                tx -> TeamRows.findById(tx.db(), r.getTeamId())
                        .map(found -> found.orElseThrow(() -> ApiException.notFound("team", r.getTeamId())))
                        .chain(current -> {
                            if (r.getExpectedVersion() != 0 && r.getExpectedVersion() != current.getVersion()) {
                                throw AgentCommands.versionMismatch("team", r.getExpectedVersion(), current.getVersion());
                            }
                            Violations v = new Violations();
                            CapRules.check(r.getCapsList(), current.getCurrencyCode(), r.getAllowInvertedWindows(),
                                    tx.now(), "caps", v);
                            v.throwIfAny();
                            Team updated = current.toBuilder().clearCaps().addAllCaps(r.getCapsList())
                                    .setVersion(current.getVersion() + 1).setUpdateTime(Times.toProto(tx.now())).build();
                            return TeamRows.update(tx.db(), updated, current.getVersion())
                                    .chain(() -> AuditLog.append(tx.db(), tx.now(), new AuditLog.Entry(caller.actor(),
                                            "team.policy.set", "team", updated.getId(), current, updated, "",
                                            r.getRequestId())))
                                    .chain(() -> PolicyChanges.appendTeam(tx.db(), updated, tx.now()))
                                    .replaceWith(updated);
                        }));
    }
}
