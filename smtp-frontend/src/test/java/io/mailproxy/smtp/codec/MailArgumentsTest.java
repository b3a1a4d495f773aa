package io.mailproxy.smtp.codec;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import org.junit.jupiter.api.Test;

class MailArgumentsTest {

    @Test
    void pathAndParameters() {
        MailArguments a = MailArguments.parse("FROM:<scanner@contoso.com> SIZE=1234 BODY=8BITMIME SMTPUTF8", "FROM");
        assertThat(a.address()).isEqualTo("scanner@contoso.com");
        assertThat(a.parameters().keySet()).containsExactly("SIZE", "BODY", "SMTPUTF8");
        assertThat(a.parameters()).containsEntry("SIZE", "1234").containsEntry("BODY", "8BITMIME").containsEntry("SMTPUTF8", null);
    }

    @Test
    void nullSenderSourceRouteAndSpaceAfterColon() {
        assertThat(MailArguments.parse("FROM:<>", "FROM").address()).isEmpty();
        assertThat(MailArguments.parse("to:<@relay.example:user@x.example>", "TO").address()).isEqualTo("user@x.example");
        assertThat(MailArguments.parse("FROM: <a@b.example>", "FROM").address()).isEqualTo("a@b.example");
        assertThat(MailArguments.parse("TO:<\"quoted >name\"@x.example>", "TO").address()).isEqualTo("\"quoted >name\"@x.example");
        assertThat(MailArguments.parse("TO:<Postmaster>", "TO").address()).isEqualTo("Postmaster");
    }

    @Test
    void refusesBadSyntax() {
        assertThatThrownBy(() -> MailArguments.parse("FROM <a@b>", "FROM")).isInstanceOf(IllegalArgumentException.class);
        assertThatThrownBy(() -> MailArguments.parse("FROM:<a@b", "FROM")).isInstanceOf(IllegalArgumentException.class);
        assertThatThrownBy(() -> MailArguments.parse("FROM:<a b@c>", "FROM")).isInstanceOf(IllegalArgumentException.class);
        assertThatThrownBy(() -> MailArguments.parse("TO:<nobody>", "TO")).isInstanceOf(IllegalArgumentException.class);
        assertThatThrownBy(() -> MailArguments.parse("FROM:<a@b.example>SIZE=1", "FROM")).isInstanceOf(IllegalArgumentException.class);
        assertThatThrownBy(() -> MailArguments.parse("FROM:<a@b.example> SIZE=1 SIZE=2", "FROM")).isInstanceOf(IllegalArgumentException.class);
    }
}
