package dev.agentspend.alerts.rest;

import com.google.protobuf.InvalidProtocolBufferException;
import com.google.protobuf.Message;
import com.google.protobuf.util.JsonFormat;
import dev.agentspend.alerts.config.AuthConfig;
import dev.agentspend.alerts.domain.Access;
import dev.agentspend.alerts.grpc.AlertApi;
import dev.agentspend.common.error.ApiException;
import dev.agentspend.common.error.FieldViolation;
import dev.agentspend.proto.alerts.v1.AcknowledgeAlertRequest;
import dev.agentspend.proto.alerts.v1.AlertState;
import dev.agentspend.proto.alerts.v1.ListAlertsRequest;
import io.smallrye.mutiny.Uni;
import jakarta.inject.Inject;
import jakarta.ws.rs.DefaultValue;
import jakarta.ws.rs.GET;
import jakarta.ws.rs.HeaderParam;
import jakarta.ws.rs.POST;
import jakarta.ws.rs.Path;
import jakarta.ws.rs.PathParam;
import jakarta.ws.rs.Produces;
import jakarta.ws.rs.QueryParam;
import jakarta.ws.rs.core.MediaType;
import jakarta.ws.rs.core.Response;

import java.util.Locale;

/**
 * The JSON API behind the alerts page: the same AlertApi as gRPC, so the same access rules (reads
 * with the service or admin token, acknowledgement with the admin token). Bodies are the
 * agentspend.alerts.v1 messages in the proto3 JSON mapping.
 */
@Path("/api/alerts")
@Produces(MediaType.APPLICATION_JSON)
public class AlertsResource {
    private static final JsonFormat.Printer PRINTER = JsonFormat.printer();

    @Inject
    AlertApi api;
    @Inject
    AuthConfig auth;

    @GET
    public Uni<Response> list(@HeaderParam("Authorization") String authorization, @QueryParam("agent") @DefaultValue("") String agent,
                              @QueryParam("state") @DefaultValue("") String state,
                              @QueryParam("page_token") @DefaultValue("") String pageToken) {
        ListAlertsRequest.Builder r = ListAlertsRequest.newBuilder().setAgentId(agent).setPageToken(pageToken).setPageSize(200);
        if (!state.isEmpty()) {
            try {
                r.setState(AlertState.valueOf("ALERT_STATE_" + state.toUpperCase(Locale.ROOT)));
            } catch (IllegalArgumentException e) {
                return Uni.createFrom().item(error(ApiException.invalid("state", "must be firing, acknowledged or resolved")));
            }
        }
        return respond(api.listAlerts(credential(authorization), r.build()));
    }

    @POST
    @Path("/{alertId}/acknowledge")
    public Uni<Response> acknowledge(@HeaderParam("Authorization") String authorization, @PathParam("alertId") String alertId,
                                     @QueryParam("request_id") @DefaultValue("") String requestId,
                                     @QueryParam("note") @DefaultValue("") String note) {
        return respond(api.acknowledgeAlert(credential(authorization), AcknowledgeAlertRequest.newBuilder()
                .setRequestId(requestId.isEmpty() ? "ack-" + alertId : requestId).setAlertId(alertId).setNote(note).build()));
    }

    private Access.Credential credential(String authorization) {
        return Access.identify(authorization, auth.adminToken(), auth.serviceToken());
    }

    private static Uni<Response> respond(Uni<? extends Message> call) {
        return call.map(m -> {
            try {
                return Response.ok(PRINTER.print(m)).build();
            } catch (InvalidProtocolBufferException e) {
                throw new IllegalStateException(e);
            }
        }).onFailure(ApiException.class).recoverWithItem(t -> error((ApiException) t));
    }

    private static Response error(ApiException e) {
        StringBuilder b = new StringBuilder("{\"code\":\"").append(e.code()).append("\",\"reason\":\"").append(e.reason())
                .append("\",\"message\":").append(quote(e.getMessage())).append(",\"violations\":[");
        for (int i = 0; i < e.violations().size(); i++) {
            FieldViolation v = e.violations().get(i);
            b.append(i == 0 ? "" : ",").append("{\"field\":").append(quote(v.field())).append(",\"description\":")
                    .append(quote(v.description())).append('}');
        }
        return Response.status(e.code().httpStatus()).entity(b.append("]}").toString()).build();
    }

    private static String quote(String s) {
        return "\"" + s.replace("\\", "\\\\").replace("\"", "\\\"").replace("\n", "\\n") + "\"";
    }
}
