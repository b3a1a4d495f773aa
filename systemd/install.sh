#!/usr/bin/env bash
# Installs mailproxy as a system service: /opt/mailproxy, /etc/mailproxy, the mailproxy user, the master key.
#   sudo systemd/install.sh            install into /
#   systemd/install.sh --root DIR      install into a scratch root (for testing; no user, no systemctl)
set -euo pipefail
root=""
while [ $# -gt 0 ]; do
  case "$1" in
    --root) root="$2"; shift 2 ;;
    -h|--help) sed -n '2,4p' "$0"; exit 0 ;;
    *) echo "unknown argument: $1" >&2; exit 2 ;;
  esac
done
src="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
jar="$src/proxy-daemon/target/mailproxy.jar"
[ -f "$jar" ] || (cd "$src" && mvn -B -q -DskipTests package -pl proxy-daemon -am)

install -d -m 0755 "$root/opt/mailproxy" "$root/etc/systemd/system" "$root/usr/lib/sysusers.d" "$root/usr/lib/tmpfiles.d"
install -m 0644 "$jar" "$root/opt/mailproxy/mailproxy.jar"
install -m 0644 "$src/README.md" "$root/opt/mailproxy/README.md"
install -m 0644 "$src/systemd/mailproxy.service" "$root/etc/systemd/system/mailproxy.service"
install -m 0644 "$src/systemd/mailproxy.sysusers" "$root/usr/lib/sysusers.d/mailproxy.conf"
install -m 0644 "$src/systemd/mailproxy.tmpfiles" "$root/usr/lib/tmpfiles.d/mailproxy.conf"
install -d -m 0750 "$root/etc/mailproxy"
if [ ! -f "$root/etc/mailproxy/mailproxy.conf" ]; then
  # The example, with the state under /var/lib/mailproxy (StateDirectory also sets $STATE_DIRECTORY).
  sed 's#^\( *\)state-dir = .*#\1state-dir = "/var/lib/mailproxy"#' "$src/conf/mailproxy.conf" > "$root/etc/mailproxy/mailproxy.conf"
  chmod 0640 "$root/etc/mailproxy/mailproxy.conf"
fi
[ -f "$root/etc/mailproxy/logback.xml" ] || install -m 0644 "$src/conf/logback.xml" "$root/etc/mailproxy/logback.xml"
if [ ! -f "$root/etc/mailproxy/master.key" ]; then
  (umask 077; head -c 32 /dev/urandom > "$root/etc/mailproxy/master.key")
  chmod 0400 "$root/etc/mailproxy/master.key"
fi
if [ -z "$root" ]; then
  systemd-sysusers /usr/lib/sysusers.d/mailproxy.conf
  systemd-tmpfiles --create /usr/lib/tmpfiles.d/mailproxy.conf
  chown root:mailproxy /etc/mailproxy /etc/mailproxy/mailproxy.conf
  systemctl daemon-reload
  echo "installed; edit /etc/mailproxy/mailproxy.conf, then: systemctl enable --now mailproxy"
else
  echo "installed into $root"
fi
