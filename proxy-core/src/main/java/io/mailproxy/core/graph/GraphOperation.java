package io.mailproxy.core.graph;

/**
 * One kind of Graph request: its name in metrics and logs, the permission it needs (named in a 403's log line), and
 * whether it may be retried automatically. Permissions: microsoft-graph-docs-contrib api-reference/v1.0/api/
 * user-sendmail.md and message-send.md (Mail.Send), user-post-messages.md, message-update.md,
 * attachment-createuploadsession.md, message-move.md, message-delete.md (Mail.ReadWrite); reading needs Mail.Read,
 * which Mail.ReadWrite includes (docs/research/graph-evidence.md section 8).
 */
enum GraphOperation {
    SEND_MAIL("send-mail", "Mail.Send", false),
    CREATE_DRAFT("create-draft", "Mail.ReadWrite", false),
    SET_RECIPIENTS("set-recipients", "Mail.ReadWrite", false),
    ADD_ATTACHMENT("add-attachment", "Mail.ReadWrite", false),
    UPLOAD_SESSION("upload-session", "Mail.ReadWrite", false),
    UPLOAD_CHUNK("upload-chunk", "Mail.ReadWrite", false),
    SEND_DRAFT("send-draft", "Mail.Send", false),
    GET_MESSAGE("get-message", "Mail.ReadWrite", true),
    DELETE("delete", "Mail.ReadWrite", false),
    LIST("list", "Mail.ReadWrite", true),
    FOLDER("folder", "Mail.ReadWrite", true),
    DOWNLOAD("download", "Mail.ReadWrite", true),
    MARK_READ("mark-read", "Mail.ReadWrite", false),
    MOVE("move", "Mail.ReadWrite", false);

    final String metricName;
    final String permission;
    /** A GET: safe to send again after a 429/503 (never a POST that sends: a retry could send twice). */
    final boolean idempotent;

    GraphOperation(String metricName, String permission, boolean idempotent) {
        this.metricName = metricName;
        this.permission = permission;
        this.idempotent = idempotent;
    }
}
