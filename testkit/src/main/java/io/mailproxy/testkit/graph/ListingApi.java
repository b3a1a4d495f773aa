package io.mailproxy.testkit.graph;

import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.IOException;
import java.net.URLEncoder;
import java.nio.charset.StandardCharsets;
import java.time.Instant;
import java.time.format.DateTimeParseException;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Comparator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import java.util.function.Predicate;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Collectors;

/**
 * Mail folders and their messages: {@code GET /users/{id}/mailFolders}, {@code .../mailFolders/{id}},
 * {@code .../childFolders} (with {@code $filter=displayName eq '...'}, how a client resolves a path), and
 * {@code .../mailFolders/{id}/messages} with {@code $select}, {@code $top}, {@code $skip}, {@code $orderby},
 * {@code $filter}, {@code $expand} of PidTagMessageSize and {@code @odata.nextLink} paging (MGDC
 * api-reference/v1.0/api/user-list-messages.md, mailfolder-list-messages.md).
 */
final class ListingApi {
    /** user-list-messages.md: default page size 10; {@code $top} from 1 to 1000. */
    static final int DEFAULT_TOP = 10;
    static final int MAX_TOP = 1000;
    private static final Pattern CLAUSE = Pattern.compile(
            "(?i)\\s*(isRead|receivedDateTime)\\s+(eq|ne|ge|gt|le|lt)\\s+('?[^' ]+'?)\\s*");
    private static final Pattern SIZE_EXPAND = Pattern.compile(
            "(?i)singleValueExtendedProperties\\(\\$filter=id\\s+eq\\s+'(Integer|Long)\\s+0x0*e08'\\)");
    private static final Pattern NAME_FILTER = Pattern.compile("(?i)displayName\\s+eq\\s+'((?:[^']|'')*)'");

    private final FakeGraph graph;

    ListingApi(FakeGraph graph) {
        this.graph = graph;
    }

    void folders(Call c) throws IOException {
        folderList(c, c.mailbox.rootId());
    }

    void childFolders(Call c) throws IOException {
        String id = c.mailbox.folderIdOrWellKnown(c.segments.get(1));
        if (id == null) {
            c.error(404, "ErrorItemNotFound", MessagesApi.NOT_FOUND);
            return;
        }
        folderList(c, id);
    }

    void folder(Call c) throws IOException {
        String id = c.mailbox.folderIdOrWellKnown(c.segments.get(1));
        if (id == null) {
            c.error(404, "ErrorItemNotFound", MessagesApi.NOT_FOUND);
            return;
        }
        ObjectNode out = folderJson(c.mailbox, c.mailbox.folderById(id));
        ObjectNode withContext = Call.JSON.createObjectNode();
        withContext.put("@odata.context", graph.baseUrl() + "/$metadata#users('" + c.mailboxName + "')/mailFolders/$entity");
        withContext.setAll(out);
        c.json(200, withContext);
    }

    private void folderList(Call c, String parentId) throws IOException {
        List<GraphFolder> children = c.mailbox.children(parentId);
        String filter = c.query.get("$filter");
        if (filter != null) {
            Matcher m = NAME_FILTER.matcher(filter.trim());
            if (!m.matches()) {
                c.error(400, "ErrorInvalidUrlQueryFilter", "The query filter contains one or more invalid nodes."); // (U)
                return;
            }
            String name = m.group(1).replace("''", "'");
            children = children.stream().filter(f -> f.displayName().equalsIgnoreCase(name)).toList();
        }
        ObjectNode out = Call.JSON.createObjectNode();
        out.put("@odata.context", graph.baseUrl() + "/$metadata#users('" + c.mailboxName + "')/mailFolders");
        ArrayNode value = out.putArray("value");
        children.forEach(f -> value.add(folderJson(c.mailbox, f)));
        c.json(200, out);
    }

    private static ObjectNode folderJson(GraphMailbox mailbox, GraphFolder f) {
        ObjectNode o = Call.JSON.createObjectNode();
        o.put("id", f.id());
        o.put("displayName", f.displayName());
        if (f.parentId() == null) {
            o.putNull("parentFolderId");
        } else {
            o.put("parentFolderId", f.parentId());
        }
        o.put("childFolderCount", mailbox.children(f.id()).size());
        List<GraphMessage> in = mailbox.inFolder(f.id());
        o.put("unreadItemCount", in.stream().filter(m -> !m.read()).count());
        o.put("totalItemCount", in.size());
        o.put("isHidden", false);
        return o;
    }

    /**
     * A folder's messages. {@code $orderby} and {@code $filter} together: "properties that appear in $orderby must also
     * appear in $filter, in the same order, before any other", else 400 InefficientFilter "The restriction or sort
     * order is too complex for this operation." (user-list-messages.md). Without {@code $orderby} newest first ((O)).
     * Paging: {@code @odata.nextLink} is an absolute URL carrying {@code $skip} (clients follow it verbatim).
     */
    void messages(Call c) throws IOException {
        String folderId = c.mailbox.folderIdOrWellKnown(c.segments.get(1));
        if (folderId == null) {
            c.error(404, "ErrorItemNotFound", MessagesApi.NOT_FOUND);
            return;
        }
        int top;
        int skip;
        try {
            top = c.query.containsKey("$top") ? Integer.parseInt(c.query.get("$top")) : DEFAULT_TOP;
            skip = c.query.containsKey("$skip") ? Integer.parseInt(c.query.get("$skip")) : 0;
        } catch (NumberFormatException e) {
            c.error(400, "BadRequest", "Invalid $top or $skip value."); // (U) text
            return;
        }
        if (top < 1 || skip < 0) {
            c.error(400, "BadRequest", "Invalid $top or $skip value."); // (U) text
            return;
        }
        // (U) what Graph does with $top over 1000; the fake caps the page.
        top = Math.min(top, MAX_TOP);
        String orderBy = c.query.get("$orderby");
        boolean descending = true;
        if (orderBy != null) {
            String[] parts = orderBy.trim().split("\\s+");
            if (!"receivedDateTime".equalsIgnoreCase(parts[0]) || parts.length > 2
                    || parts.length == 2 && !parts[1].matches("(?i)asc|desc")) {
                c.error(400, "BadRequest", "The fake Graph orders by receivedDateTime only.");
                return;
            }
            descending = parts.length == 2 && "desc".equalsIgnoreCase(parts[1]);
        }
        Predicate<GraphMessage> filter = m -> true;
        String filterText = c.query.get("$filter");
        if (filterText != null) {
            List<String> clauses = Arrays.asList(filterText.split("(?i)\\s+and\\s+"));
            List<Predicate<GraphMessage>> predicates = new ArrayList<>();
            String firstProperty = null;
            for (String clause : clauses) {
                Matcher m = CLAUSE.matcher(clause);
                if (!m.matches()) {
                    c.error(400, "BadRequest", "Invalid filter clause"); // (U) the fake's grammar is small
                    return;
                }
                if (firstProperty == null) {
                    firstProperty = m.group(1);
                }
                Predicate<GraphMessage> p = clause(m.group(1), m.group(2).toLowerCase(Locale.ROOT), m.group(3));
                if (p == null) {
                    c.error(400, "BadRequest", "Invalid filter clause"); // (U)
                    return;
                }
                predicates.add(p);
            }
            if (orderBy != null && !"receivedDateTime".equalsIgnoreCase(firstProperty)) {
                c.error(400, "InefficientFilter", "The restriction or sort order is too complex for this operation.");
                return;
            }
            filter = predicates.stream().reduce(x -> true, Predicate::and);
        }
        Set<String> select = select(c);
        boolean size = expandsSize(c);
        if (c.query.containsKey("$expand") && !size) {
            c.error(400, "BadRequest", "The fake Graph expands singleValueExtendedProperties 0x0E08 only.");
            return;
        }
        Comparator<GraphMessage> order = Comparator.comparing(GraphMessage::received)
                .thenComparingLong(GraphMessage::sequence);
        List<GraphMessage> all = c.mailbox.inFolder(folderId).stream().filter(filter)
                .sorted(descending ? order.reversed() : order).toList();
        List<GraphMessage> page = all.subList(Math.min(skip, all.size()), Math.min(skip + top, all.size()));
        ObjectNode out = Call.JSON.createObjectNode();
        out.put("@odata.context", graph.baseUrl() + "/$metadata#users('" + c.mailboxName + "')/mailFolders('"
                + c.segments.get(1) + "')/messages");
        ArrayNode value = out.putArray("value");
        page.forEach(m -> value.add(MessageJson.render(graph, m, select, size)));
        if (skip + top < all.size()) {
            Map<String, String> next = new LinkedHashMap<>(c.query);
            next.put("$top", Integer.toString(top));
            next.put("$skip", Integer.toString(skip + top));
            out.put("@odata.nextLink", graph.origin() + c.exchange.getRequestURI().getRawPath() + "?"
                    + next.entrySet().stream().map(e -> encode(e.getKey()) + "=" + encode(e.getValue()))
                    .collect(Collectors.joining("&")));
        }
        c.json(200, out);
    }

    private static String encode(String s) {
        return URLEncoder.encode(s, StandardCharsets.UTF_8).replace("+", "%20").replace("%24", "$")
                .replace("%2C", ",");
    }

    private static Predicate<GraphMessage> clause(String property, String op, String literal) {
        if ("isread".equalsIgnoreCase(property)) {
            if (!literal.matches("(?i)true|false") || !op.equals("eq") && !op.equals("ne")) {
                return null;
            }
            boolean v = Boolean.parseBoolean(literal.toLowerCase(Locale.ROOT));
            return op.equals("eq") ? m -> m.read() == v : m -> m.read() != v;
        }
        Instant t;
        try {
            t = Instant.parse(literal.replace("'", ""));
        } catch (DateTimeParseException e) {
            return null;
        }
        return switch (op) {
            case "eq" -> m -> m.received().equals(t);
            case "ne" -> m -> !m.received().equals(t);
            case "ge" -> m -> !m.received().isBefore(t);
            case "gt" -> m -> m.received().isAfter(t);
            case "le" -> m -> !m.received().isAfter(t);
            default -> m -> m.received().isBefore(t);
        };
    }

    /** {@code $select}'s property names, lower-case; null when absent (all properties). */
    static Set<String> select(Call c) {
        String s = c.query.get("$select");
        if (s == null || s.isBlank()) {
            return null;
        }
        return Arrays.stream(s.split(",")).map(p -> p.trim().toLowerCase(Locale.ROOT)).collect(Collectors.toSet());
    }

    /**
     * Whether {@code $expand=singleValueExtendedProperties($filter=id eq 'Integer 0x0E08')} asks for PidTagMessageSize
     * (MGDC api-reference/v1.0/api/singlevaluelegacyextendedproperty-get.md for the syntax).
     */
    static boolean expandsSize(Call c) {
        String e = c.query.get("$expand");
        return e != null && SIZE_EXPAND.matcher(e.trim()).matches();
    }
}
