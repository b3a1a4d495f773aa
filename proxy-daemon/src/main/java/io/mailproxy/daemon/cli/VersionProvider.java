package io.mailproxy.daemon.cli;

import picocli.CommandLine;

final class VersionProvider implements CommandLine.IVersionProvider {
    @Override
    public String[] getVersion() {
        String v = MailproxyCommand.class.getPackage().getImplementationVersion();
        return new String[] {"mailproxy " + (v == null ? "development build" : v)};
    }
}
