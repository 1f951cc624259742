package dev.agentspend.analytics.rest;

import com.google.protobuf.InvalidProtocolBufferException;
import com.google.protobuf.Message;
import com.google.protobuf.MessageOrBuilder;
import com.google.protobuf.util.JsonFormat;
import dev.agentspend.common.api.Fields;
import dev.agentspend.common.error.ApiException;

/**
 * REST bodies are the proto request and response messages in canonical JSON with the proto's
 * snake_case names, so that REST and gRPC share one contract; int64 amounts are JSON strings (as
 * the proto JSON mapping specifies), so no amount loses precision in a browser.
 */
public final class ProtoJson {
    private static final JsonFormat.Parser PARSER = JsonFormat.parser();
    private static final JsonFormat.Printer PRINTER = JsonFormat.printer().preservingProtoFieldNames()
            .alwaysPrintFieldsWithNoPresence().omittingInsignificantWhitespace();

    private ProtoJson() {
    }

    public static <B extends Message.Builder> B parse(String body, B builder) {
        if (body == null || body.isBlank()) {
            return builder;
        }
        try {
            PARSER.merge(body, builder);
            return builder;
        } catch (InvalidProtocolBufferException | RuntimeException e) {
            throw ApiException.invalid("body", "is not a valid JSON request: " + Fields.printable(e.getMessage()));
        }
    }

    public static String print(MessageOrBuilder message) {
        try {
            return PRINTER.print(message);
        } catch (InvalidProtocolBufferException e) {
            throw new IllegalStateException("response does not print as JSON", e);
        }
    }
}
