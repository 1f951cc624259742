package dev.agentspend.ledger.grpc;

import dev.agentspend.common.error.ApiException;
import dev.agentspend.common.error.DatabaseErrors;
import dev.agentspend.common.error.ErrorCode;
import dev.agentspend.common.error.GrpcErrors;
import dev.agentspend.common.error.Violations;
import dev.agentspend.common.grpc.StreamDrain;
import dev.agentspend.ledger.config.LedgerConfig;
import dev.agentspend.ledger.domain.PolicyView;
import dev.agentspend.ledger.store.LedgerQueries;
import dev.agentspend.ledger.store.LedgerStore;
import dev.agentspend.ledger.store.PaymentBatcher;
import dev.agentspend.proto.identity.v1.AgentPolicy;
import dev.agentspend.proto.ledger.v1.CaptureRequest;
import dev.agentspend.proto.ledger.v1.CaptureResponse;
import dev.agentspend.proto.ledger.v1.CompleteTaskRequest;
import dev.agentspend.proto.ledger.v1.CompleteTaskResponse;
import dev.agentspend.proto.ledger.v1.CreditRequest;
import dev.agentspend.proto.ledger.v1.CreditResponse;
import dev.agentspend.proto.ledger.v1.GetBalanceRequest;
import dev.agentspend.proto.ledger.v1.GetBalanceResponse;
import dev.agentspend.proto.ledger.v1.HoldRequest;
import dev.agentspend.proto.ledger.v1.HoldResponse;
import dev.agentspend.proto.ledger.v1.LedgerService;
import dev.agentspend.proto.ledger.v1.ListEntriesRequest;
import dev.agentspend.proto.ledger.v1.ListEntriesResponse;
import dev.agentspend.proto.ledger.v1.PayAgentRequest;
import dev.agentspend.proto.ledger.v1.PayAgentResponse;
import dev.agentspend.proto.ledger.v1.PayRequest;
import dev.agentspend.proto.ledger.v1.PayResponse;
import dev.agentspend.proto.ledger.v1.ReleaseRequest;
import dev.agentspend.proto.ledger.v1.ReleaseResponse;
import dev.agentspend.proto.ledger.v1.ReverseRequest;
import dev.agentspend.proto.ledger.v1.ReverseResponse;
import dev.agentspend.proto.ledger.v1.StreamEntriesRequest;
import dev.agentspend.proto.ledger.v1.StreamEntriesResponse;
import dev.agentspend.proto.ledger.v1.TaskOutcome;
import dev.agentspend.proto.ledger.v1.VerifyLedgerRequest;
import dev.agentspend.proto.ledger.v1.VerifyLedgerResponse;
import io.grpc.StatusRuntimeException;
import io.quarkus.grpc.GrpcService;
import io.smallrye.mutiny.Multi;
import io.smallrye.mutiny.Uni;
import jakarta.inject.Inject;
import org.jboss.logging.Logger;

import java.util.function.Supplier;

/**
 * The gRPC transport of the ledger: authenticates the caller, checks the request's fields, and
 * hands over to the store. The agent of a payment is always the key's agent.
 */
@GrpcService
public class LedgerGrpcService implements LedgerService {
    static final String DOMAIN = "ledger.agentspend.dev";
    private static final Logger LOG = Logger.getLogger(LedgerGrpcService.class);

    @Inject
    Authenticator auth;
    @Inject
    StreamDrain streams;

    @Inject
    PolicyCache policies;

    @Inject
    LedgerStore store;

    @Inject
    PaymentBatcher payments;

    @Inject
    LedgerQueries queries;

    @Inject
    PaymentMetrics metrics;

    @Inject
    LedgerConfig config;

    private LedgerStore.Policy policy(Caller.Agent a) {
        return new LedgerStore.Policy(policies.view(a.policy()), policies.fresh());
    }

    @Override
    public Uni<PayResponse> pay(PayRequest req) {
        String header = AuthInterceptor.AUTHORIZATION.get();
        return call(() -> {
            Caller.Agent a = auth.agent(header);
            Violations v = new Violations();
            Requests.requestId(v, req.getRequestId());
            Requests.amount(v, "amount_micros", req.getAmountMicros());
            Requests.currency(v, req.getCurrencyCode(), a.policy().getCurrencyCode());
            Requests.tool(v, req.getTool(), true);
            Requests.optionalId(v, "task_id", req.getTaskId());
            Requests.optionalId(v, "call_id", req.getCallId());
            Requests.attempt(v, req.getAttempt());
            Requests.labels(v, req.getLabelsMap());
            Requests.time(v, "occurred_time", req.hasOccurredTime(), req.getOccurredTime());
            v.throwIfAny();
            return payments.pay(a.idempotencyScope(), policy(a), req, Requests.fingerprint("Pay", req))
                    .invoke(r -> {
                        if (!r.replayed()) {
                            metrics.record("pay", r.response().getEntry());
                        }
                    })
                    .map(LedgerStore.Result::response);
        });
    }

    @Override
    public Uni<HoldResponse> hold(HoldRequest req) {
        String header = AuthInterceptor.AUTHORIZATION.get();
        return call(() -> {
            Caller.Agent a = auth.agent(header);
            Violations v = new Violations();
            Requests.requestId(v, req.getRequestId());
            Requests.amount(v, "amount_micros", req.getAmountMicros());
            Requests.currency(v, req.getCurrencyCode(), a.policy().getCurrencyCode());
            Requests.tool(v, req.getTool(), true);
            Requests.optionalId(v, "task_id", req.getTaskId());
            Requests.optionalId(v, "call_id", req.getCallId());
            Requests.attempt(v, req.getAttempt());
            Requests.labels(v, req.getLabelsMap());
            Requests.time(v, "occurred_time", req.hasOccurredTime(), req.getOccurredTime());
            Requests.ttl(v, req.hasTtl(), req.getTtl(), config.ledger().holdMaxTtl());
            v.throwIfAny();
            return store.hold(a.idempotencyScope(), policy(a), req, Requests.fingerprint("Hold", req))
                    .invoke(r -> {
                        if (!r.replayed()) {
                            metrics.record("hold", r.response().getEntry());
                        }
                    })
                    .map(LedgerStore.Result::response);
        });
    }

    @Override
    public Uni<CaptureResponse> capture(CaptureRequest req) {
        String header = AuthInterceptor.AUTHORIZATION.get();
        return call(() -> {
            Caller.Agent a = auth.agent(header);
            Violations v = new Violations();
            Requests.requestId(v, req.getRequestId());
            Requests.requiredId(v, "hold_id", req.getHoldId());
            Requests.amount(v, "amount_micros", req.getAmountMicros());
            Requests.labels(v, req.getLabelsMap());
            Requests.time(v, "occurred_time", req.hasOccurredTime(), req.getOccurredTime());
            v.throwIfAny();
            return store.capture(a.idempotencyScope(), policy(a), req, Requests.fingerprint("Capture", req),
                    policies::teamCaps)
                    .invoke(r -> {
                        if (!r.replayed()) {
                            metrics.record("capture", r.response().getEntry());
                        }
                    })
                    .map(LedgerStore.Result::response);
        });
    }

    @Override
    public Uni<ReleaseResponse> release(ReleaseRequest req) {
        String header = AuthInterceptor.AUTHORIZATION.get();
        return call(() -> {
            Caller.Agent a = auth.agent(header);
            Violations v = new Violations();
            Requests.requestId(v, req.getRequestId());
            Requests.requiredId(v, "hold_id", req.getHoldId());
            Requests.time(v, "occurred_time", req.hasOccurredTime(), req.getOccurredTime());
            v.throwIfAny();
            return store.release(a.idempotencyScope(), policy(a), req, Requests.fingerprint("Release", req))
                    .map(LedgerStore.Result::response);
        });
    }

    @Override
    public Uni<PayAgentResponse> payAgent(PayAgentRequest req) {
        String header = AuthInterceptor.AUTHORIZATION.get();
        return call(() -> {
            Caller.Agent a = auth.agent(header);
            Violations v = new Violations();
            Requests.requestId(v, req.getRequestId());
            Requests.requiredId(v, "payee_agent_id", req.getPayeeAgentId());
            v.check(!req.getPayeeAgentId().equals(a.agentId()), "payee_agent_id", "an agent cannot pay itself");
            Requests.amount(v, "amount_micros", req.getAmountMicros());
            Requests.currency(v, req.getCurrencyCode(), a.policy().getCurrencyCode());
            Requests.tool(v, req.getTool(), false);
            Requests.optionalId(v, "task_id", req.getTaskId());
            Requests.optionalId(v, "call_id", req.getCallId());
            Requests.attempt(v, req.getAttempt());
            Requests.labels(v, req.getLabelsMap());
            Requests.time(v, "occurred_time", req.hasOccurredTime(), req.getOccurredTime());
            v.throwIfAny();
            AgentPolicy payee = policies.agent(req.getPayeeAgentId())
                    .orElseThrow(() -> ApiException.notFound("agent", req.getPayeeAgentId()));
            if (!payee.getCurrencyCode().equals(a.policy().getCurrencyCode())) {
                throw ApiException.of(ErrorCode.FAILED_PRECONDITION, "CURRENCY_MISMATCH",
                        "the payee's currency is " + payee.getCurrencyCode() + ", the payer's " + a.policy().getCurrencyCode());
            }
            return store.payAgent(a.idempotencyScope(), policy(a), policies.view(payee), req,
                            Requests.fingerprint("PayAgent", req))
                    .invoke(r -> {
                        if (!r.replayed()) {
                            metrics.record("pay_agent", r.response().getEntry());
                        }
                    })
                    .map(LedgerStore.Result::response);
        });
    }

    @Override
    public Uni<CompleteTaskResponse> completeTask(CompleteTaskRequest req) {
        String header = AuthInterceptor.AUTHORIZATION.get();
        return call(() -> {
            Caller caller = auth.resolve(header);
            PolicyView view = ownOrAdmin(caller, req.getAgentId(), "complete only its own tasks", "CompleteTask");
            Violations v = new Violations();
            Requests.requestId(v, req.getRequestId());
            Requests.requiredId(v, "task_id", req.getTaskId());
            v.check(req.getOutcome() != TaskOutcome.TASK_OUTCOME_UNSPECIFIED && req.getOutcomeValue() > 0
                            && req.getOutcomeValue() <= TaskOutcome.TASK_OUTCOME_ABANDONED_VALUE,
                    "outcome", "required: SUCCEEDED, FAILED or ABANDONED");
            Requests.labels(v, req.getLabelsMap());
            Requests.time(v, "occurred_time", req.hasOccurredTime(), req.getOccurredTime());
            v.throwIfAny();
            return payments.completeTask(caller.idempotencyScope(), view, req, Requests.fingerprint("CompleteTask", req))
                    .map(LedgerStore.Result::response);
        });
    }

    @Override
    public Uni<CreditResponse> credit(CreditRequest req) {
        String header = AuthInterceptor.AUTHORIZATION.get();
        return call(() -> {
            auth.admin(header);
            Violations v = new Violations();
            Requests.requestId(v, req.getRequestId());
            Requests.requiredId(v, "agent_id", req.getAgentId());
            Requests.amount(v, "amount_micros", req.getAmountMicros());
            Requests.note(v, req.getNote());
            v.throwIfAny();
            PolicyView view = knownAgent(req.getAgentId());
            Violations c = new Violations();
            Requests.currency(c, req.getCurrencyCode(), view.currency());
            c.throwIfAny();
            return store.credit("admin", view, req, Requests.fingerprint("Credit", req)).map(LedgerStore.Result::response);
        });
    }

    @Override
    public Uni<ReverseResponse> reverse(ReverseRequest req) {
        String header = AuthInterceptor.AUTHORIZATION.get();
        return call(() -> {
            auth.admin(header);
            Violations v = new Violations();
            Requests.requestId(v, req.getRequestId());
            Requests.requiredId(v, "entry_id", req.getEntryId());
            v.check(req.getAmountMicros() >= 0, "amount_micros", "must be 0 (everything left) or positive");
            Requests.note(v, req.getNote());
            v.throwIfAny();
            return store.reverse("admin", req, Requests.fingerprint("Reverse", req)).map(LedgerStore.Result::response);
        });
    }

    @Override
    public Uni<GetBalanceResponse> getBalance(GetBalanceRequest req) {
        String header = AuthInterceptor.AUTHORIZATION.get();
        return call(() -> {
            Caller caller = auth.resolve(header);
            Violations v = new Violations();
            Requests.optionalId(v, "task_id", req.getTaskId());
            Requests.optionalId(v, "agent_id", req.getAgentId());
            v.throwIfAny();
            PolicyView view = ownOrAdmin(caller, req.getAgentId(), "read only its own balance", "GetBalance");
            return queries.balance(view, policies.fresh(), req.getTaskId());
        });
    }

    @Override
    public Uni<ListEntriesResponse> listEntries(ListEntriesRequest req) {
        String header = AuthInterceptor.AUTHORIZATION.get();
        return call(() -> {
            Caller caller = auth.resolve(header);
            ListEntriesRequest effective = req;
            if (caller instanceof Caller.Agent a) {
                if (!req.getAgentId().isEmpty() && !req.getAgentId().equals(a.agentId())) {
                    throw Authenticator.denied("an agent can list only its own entries");
                }
                effective = req.toBuilder().setAgentId(a.agentId()).build();
            } else if (!(caller instanceof Caller.Admin)) {
                throw Authenticator.denied("ListEntries needs an agent key or the admin credential; services use StreamEntries");
            }
            Violations v = new Violations();
            v.check(req.getPageSize() >= 0 && req.getPageSize() <= 1000, "page_size", "must be 0 (100) to 1000");
            Requests.optionalId(v, "agent_id", req.getAgentId());
            Requests.optionalId(v, "team_id", req.getTeamId());
            Requests.tool(v, req.getTool(), false);
            Requests.optionalId(v, "task_id", req.getTaskId());
            Requests.time(v, "start_time", req.hasStartTime(), req.getStartTime());
            Requests.time(v, "end_time", req.hasEndTime(), req.getEndTime());
            v.throwIfAny();
            return queries.list(effective);
        });
    }

    @Override
    public Uni<VerifyLedgerResponse> verifyLedger(VerifyLedgerRequest req) {
        String header = AuthInterceptor.AUTHORIZATION.get();
        return call(() -> {
            auth.admin(header);
            return queries.verify();
        });
    }

    @Override
    public Multi<StreamEntriesResponse> streamEntries(StreamEntriesRequest req) {
        String header = AuthInterceptor.AUTHORIZATION.get();
        return streams.drainable(Multi.createFrom().deferred(() -> {
                    auth.service(header);
                    Violations v = new Violations();
                    v.check(req.getAfterPosition() >= 0, "after_position", "must be 0 or a position already seen");
                    v.check(req.getMaxEntriesPerResponse() >= 0, "max_entries_per_response",
                            "must be 0 or more (0 or 1: one entry per response, in `entry`)");
                    v.throwIfAny();
                    int perResponse = Math.min(req.getMaxEntriesPerResponse(), FeedResponses.MAX_ENTRIES_PER_RESPONSE);
                    // a position past the head was never handed out: a consumer with a corrupt
                    // checkpoint would otherwise wait forever for entries that never come
                    return queries.head().onItem().transformToMulti(head -> {
                        if (req.getAfterPosition() > head) {
                            throw ApiException.of(ErrorCode.OUT_OF_RANGE, "POSITION_PAST_HEAD", "after_position "
                                    + req.getAfterPosition() + " is past the feed's head (" + head
                                    + "); resume from 0 or from a position this feed delivered");
                        }
                        return queries.pages(req.getAfterPosition())
                                .onItem().transformToIterable(page -> FeedResponses.of(page, perResponse));
                    });
                })
                .onFailure().transform(this::toStatus));
    }

    /** An agent acts on itself (agent_id empty or its own); the admin on any known agent. */
    private PolicyView ownOrAdmin(Caller caller, String agentId, String what, String method) {
        if (caller instanceof Caller.Agent a) {
            if (!agentId.isEmpty() && !agentId.equals(a.agentId())) {
                throw Authenticator.denied("an agent can " + what);
            }
            return policies.view(a.policy());
        }
        if (caller instanceof Caller.Admin) {
            return knownAgent(agentId);
        }
        throw Authenticator.denied(method + " needs an agent key or the admin credential");
    }

    private PolicyView knownAgent(String agentId) {
        if (agentId.isEmpty()) {
            throw ApiException.invalid("agent_id", "required for the admin");
        }
        // checked before the look-up, so that a malformed id is named as such and never echoed raw
        Violations v = new Violations();
        Requests.requiredId(v, "agent_id", agentId);
        v.throwIfAny();
        return policies.agent(agentId).map(policies::view).orElseThrow(() -> ApiException.notFound("agent", agentId));
    }

    private <T> Uni<T> call(Supplier<Uni<? extends T>> body) {
        return Uni.createFrom().<T>deferred(body).onFailure().transform(this::toStatus);
    }

    private StatusRuntimeException toStatus(Throwable t) {
        // a database outage is the caller's cue to retry (same request_id: a payment committed just
        // before the connection broke is answered from its idempotency record), not a bug
        Throwable refusal = DatabaseErrors.translate(t, "the ledger's database");
        if (!(refusal instanceof ApiException) && !(refusal instanceof StatusRuntimeException)) {
            LOG.errorf(t, "unexpected failure");
        } else if (refusal != t) {
            LOG.debugf("database unavailable: %s", t.getMessage());
        }
        return GrpcErrors.toStatus(refusal, DOMAIN);
    }
}
