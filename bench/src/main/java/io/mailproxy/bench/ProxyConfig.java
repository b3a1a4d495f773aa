package io.mailproxy.bench;

import io.mailproxy.core.identity.PasswordHasher;

/** The mailproxy configuration (HOCON) the benchmarks run with: Dovecot as the upstream, one account per user. */
final class ProxyConfig {

    private ProxyConfig() {
    }

    /**
     * @param imap, pop3, smtp listener ports on 127.0.0.1 (0: no such listener)
     * @param poolMax pool.imap.max of every account
     * @param minIdle pool.imap.min-idle of every account
     */
    static String hocon(Env env, int imap, int pop3, int smtp, int poolMax, int minIdle) {
        String hash = PasswordHasher.hash(Env.CLIENT_PASSWORD.toCharArray());
        StringBuilder b = new StringBuilder();
        b.append("mailproxy {\n");
        b.append("  state-dir = \"").append(env.scratch.resolve("state")).append("\"\n");
        b.append("  listeners = [\n");
        if (imap > 0) {
            b.append("    { protocol = imap, bind = \"127.0.0.1\", port = ").append(imap).append(" }\n");
        }
        if (pop3 > 0) {
            b.append("    { protocol = pop3, bind = \"127.0.0.1\", port = ").append(pop3).append(" }\n");
        }
        if (smtp > 0) {
            b.append("    { protocol = smtp, bind = \"127.0.0.1\", port = ").append(smtp).append(" }\n");
        }
        b.append("  ]\n");
        b.append("  upstreams.dovecot {\n");
        b.append("    imap = \"imaps://").append(Dovecot.HOST).append(':').append(env.dovecot.imaps).append("\"\n");
        b.append("    pop3 = \"pop3s://").append(Dovecot.HOST).append(':').append(env.dovecot.pop3s).append("\"\n");
        b.append("    smtp = \"smtp+starttls://").append(Dovecot.HOST).append(':').append(env.dovecot.submission)
                .append("\"\n");
        b.append("    ca-file = \"").append(env.dovecot.certFile).append("\"\n");
        b.append("  }\n");
        b.append("  oauth2.bench { token-endpoint = \"").append(env.idp.tokenEndpoint())
                .append("\", client-id = \"mailproxy-bench\" }\n");
        b.append("  accounts {\n");
        for (int i = 1; i <= Env.ACCOUNTS; i++) {
            String user = Env.user(i);
            b.append("    \"").append(user).append("\" {\n");
            b.append("      upstream = dovecot\n");
            b.append("      auth { type = oauth2, provider = bench, grant = password, username = \"").append(user)
                    .append("\", password = \"unused-by-the-bench-idp\" }\n");
            b.append("      pool.imap { max = ").append(poolMax).append(", min-idle = ").append(minIdle).append(" }\n");
            b.append("      pool.smtp { max = 3 }\n");
            b.append("    }\n");
        }
        b.append("  }\n");
        b.append("  clients {\n");
        for (int i = 1; i <= Env.ACCOUNTS; i++) {
            b.append("    \"").append(Env.client(i)).append("\" { password = \"").append(hash)
                    .append("\", account = \"").append(Env.user(i)).append("\", pop3 { source = pop3 } }\n");
            b.append("    \"").append(Env.imapSourceClient(i)).append("\" { password = \"").append(hash)
                    .append("\", account = \"").append(Env.user(i))
                    .append("\", protocols = [pop3], pop3 { source = imap, on-delete = keep } }\n");
        }
        b.append("  }\n");
        b.append("  admin { enabled = false }\n");
        b.append("  limits { max-connections = 2500, max-unauthenticated = 200 }\n");
        b.append("}\n");
        return b.toString();
    }
}
