package dev.agentspend.alerts.grpc;

import dev.agentspend.common.error.ApiException;
import dev.agentspend.common.error.DatabaseErrors;
import dev.agentspend.common.error.GrpcErrors;
import dev.agentspend.common.grpc.StreamDrain;
import dev.agentspend.proto.alerts.v1.*;
import io.quarkus.grpc.GrpcService;
import io.quarkus.grpc.RegisterInterceptor;
import io.smallrye.mutiny.Multi;
import io.smallrye.mutiny.Uni;
import jakarta.inject.Inject;
import org.jboss.logging.Logger;

/** The gRPC transport: the caller's credential in, google.rpc.Status refusals out. */
@GrpcService
@RegisterInterceptor(AuthInterceptor.class)
public class AlertGrpcService implements AlertService {
    public static final String DOMAIN = "alerts.agentspend.dev";
    private static final Logger LOG = Logger.getLogger(AlertGrpcService.class);

    @Inject
    AlertApi api;
    @Inject
    StreamDrain streams;

    @Override
    public Multi<WatchAlertsResponse> watchAlerts(WatchAlertsRequest request) {
        return streams.drainable(api.watchAlerts(AuthInterceptor.current(), request)
                .onFailure().transform(t -> map("WatchAlerts", t)));
    }

    @Override
    public Uni<ListAlertsResponse> listAlerts(ListAlertsRequest request) {
        return unary("ListAlerts", api.listAlerts(AuthInterceptor.current(), request));
    }

    @Override
    public Uni<GetAlertResponse> getAlert(GetAlertRequest request) {
        return unary("GetAlert", api.getAlert(AuthInterceptor.current(), request));
    }

    @Override
    public Uni<AcknowledgeAlertResponse> acknowledgeAlert(AcknowledgeAlertRequest request) {
        return unary("AcknowledgeAlert", api.acknowledgeAlert(AuthInterceptor.current(), request));
    }

    @Override
    public Uni<SetRuleConfigResponse> setRuleConfig(SetRuleConfigRequest request) {
        return unary("SetRuleConfig", api.setRuleConfig(AuthInterceptor.current(), request));
    }

    @Override
    public Uni<DeleteRuleConfigResponse> deleteRuleConfig(DeleteRuleConfigRequest request) {
        return unary("DeleteRuleConfig", api.deleteRuleConfig(AuthInterceptor.current(), request));
    }

    @Override
    public Uni<ListRuleConfigsResponse> listRuleConfigs(ListRuleConfigsRequest request) {
        return unary("ListRuleConfigs", api.listRuleConfigs(AuthInterceptor.current(), request));
    }

    @Override
    public Uni<GetEffectiveRuleConfigResponse> getEffectiveRuleConfig(GetEffectiveRuleConfigRequest request) {
        return unary("GetEffectiveRuleConfig", api.getEffectiveRuleConfig(AuthInterceptor.current(), request));
    }

    @Override
    public Uni<CreateWebhookResponse> createWebhook(CreateWebhookRequest request) {
        return unary("CreateWebhook", api.createWebhook(AuthInterceptor.current(), request));
    }

    @Override
    public Uni<ListWebhooksResponse> listWebhooks(ListWebhooksRequest request) {
        return unary("ListWebhooks", api.listWebhooks(AuthInterceptor.current(), request));
    }

    @Override
    public Uni<DeleteWebhookResponse> deleteWebhook(DeleteWebhookRequest request) {
        return unary("DeleteWebhook", api.deleteWebhook(AuthInterceptor.current(), request));
    }

    private static <T> Uni<T> unary(String method, Uni<T> call) {
        return call.onFailure().transform(t -> map(method, t));
    }

    private static Throwable map(String method, Throwable t) {
        Throwable refusal = DatabaseErrors.translate(t, "the alerts database");
        if (!(refusal instanceof ApiException) && !(refusal instanceof io.grpc.StatusRuntimeException)) {
            LOG.errorf(t, "%s failed unexpectedly", method);
        }
        return GrpcErrors.toStatus(refusal, DOMAIN);
    }
}
