package dev.agentspend.identity.domain;

import dev.agentspend.common.api.PageTokens;
import dev.agentspend.common.error.ApiException;
import dev.agentspend.common.error.Violations;

import java.util.Optional;

/** Page size and page token rules shared by every listing. */
public final class Paging {
    private Paging() {
    }

    /** A listing's request after validation: the effective size and the cursor, if any. */
    public record Page(int size, Optional<String> cursor) {
    }

    public static Page of(int pageSize, String pageToken, String kind, Violations v) {
        v.check(pageSize >= 0 && pageSize <= Limits.MAX_PAGE_SIZE, "page_size",
                "must be 1.." + Limits.MAX_PAGE_SIZE + " (0 means " + Limits.DEFAULT_PAGE_SIZE + ")");
        Optional<String> cursor = Optional.empty();
        if (pageToken != null && !pageToken.isEmpty()) {
            cursor = PageTokens.decode(kind, pageToken);
            v.check(cursor.isPresent(), "page_token", "is not a token from a previous response of this listing");
        }
        int size = pageSize == 0 ? Limits.DEFAULT_PAGE_SIZE : Math.max(1, Math.min(pageSize, Limits.MAX_PAGE_SIZE));
        return new Page(size, cursor);
    }

    public static String nextToken(String kind, boolean more, String lastCursor) {
        return more ? PageTokens.encode(kind, lastCursor) : "";
    }

    public static long cursorAsLong(Page page, String field) {
        try {
            return Long.parseLong(page.cursor().orElseThrow());
        } catch (NumberFormatException e) {
            throw ApiException.invalid(field, "is not a token from a previous response of this listing");
        }
    }
}
