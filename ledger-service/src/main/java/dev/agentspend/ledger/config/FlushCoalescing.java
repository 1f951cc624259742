package dev.agentspend.ledger.config;

import io.netty.channel.Channel;
import io.netty.handler.flush.FlushConsolidationHandler;
import io.netty.util.AttributeKey;
import io.vertx.core.http.HttpConnection;
import io.vertx.core.http.HttpVersion;
import io.vertx.core.net.impl.ConnectionBase;
import io.vertx.ext.web.Router;
import io.vertx.sqlclient.SqlConnection;
import io.vertx.sqlclient.impl.Connection;
import io.vertx.sqlclient.impl.SocketConnectionBase;
import io.vertx.sqlclient.impl.SqlConnectionInternal;
import jakarta.enterprise.context.ApplicationScoped;
import jakarta.enterprise.event.Observes;

/**
 * One socket write per event-loop turn on the ledger's connections, instead of one per frame or
 * statement. Vert.x's HTTP/2 server flushes every frame written outside a read, and a unary gRPC
 * answer is written from the database's callback as three (headers, message, trailers): three
 * writev calls, which profiled as 17% of the ledger's CPU under the benchmark. The PostgreSQL
 * client flushes each statement of a pipelined batch on its own as well. Netty's
 * FlushConsolidationHandler at the head of a connection's pipeline turns the flushes of one turn
 * into one write: an answer in one, the answers to one batch's payments on the same connection
 * together, a batch's statements together. Nothing waits past the end of the current event-loop
 * task (or, inside a read, the end of the read, where Vert.x flushes anyway).
 *
 * <p>Vert.x offers no public hook into a connection's pipeline; this reaches it through Vert.x's
 * internal ConnectionBase and the SQL client's SocketConnectionBase, and does nothing (the
 * connection works as before, flushing per write) where the classes differ after an upgrade.
 * FlushCoalescingTest checks that both kinds of connection get the handler.
 */
@ApplicationScoped
public class FlushCoalescing {
    static final String HANDLER_NAME = "agentspend-flush-coalescing";
    /** Flushes held inside one read before a write is forced: Netty's default. */
    static final int FLUSHES_PER_READ_MAX = FlushConsolidationHandler.DEFAULT_EXPLICIT_FLUSH_AFTER_FLUSHES;
    private static final AttributeKey<Boolean> INSTALLED = AttributeKey.valueOf(HANDLER_NAME);

    /** Ahead of every other route, so a connection has it before its first answer. */
    void onRouter(@Observes Router router) {
        router.route().order(Integer.MIN_VALUE).handler(ctx -> {
            if (ctx.request().version() == HttpVersion.HTTP_2) {
                install(ctx.request().connection());
            }
            ctx.next();
        });
    }

    static void install(HttpConnection connection) {
        if (connection instanceof ConnectionBase base) {
            install(base.channel());
        }
    }

    static void install(SqlConnection connection) {
        Channel channel = channelOf(connection);
        if (channel != null) {
            install(channel);
        }
    }

    /** The socket under a database connection, or null where the client's classes differ. */
    static Channel channelOf(SqlConnection connection) {
        if (!(connection instanceof SqlConnectionInternal internal)) {
            return null;
        }
        Connection c = internal.unwrap();
        // the pool wraps the socket connection; unwrap() returns itself at the bottom
        for (int depth = 0; depth < 4 && !(c instanceof SocketConnectionBase); depth++) {
            c = c.unwrap();
        }
        return c instanceof SocketConnectionBase socket ? socket.socket().channelHandlerContext().channel() : null;
    }

    /** Idempotent: a connection gets one handler, however many requests it carries. */
    static void install(Channel channel) {
        if (channel.attr(INSTALLED).setIfAbsent(Boolean.TRUE) == null) {
            channel.pipeline().addFirst(HANDLER_NAME, new FlushConsolidationHandler(FLUSHES_PER_READ_MAX, true));
        }
    }

    static boolean installed(Channel channel) {
        return channel.pipeline().get(HANDLER_NAME) != null;
    }
}
