#!/usr/bin/env bash
# Installs mailproxy as a system service: /opt/mailproxy, /etc/mailproxy, the mailproxy user, the master key.
#   sudo systemd/install.sh            install into /
#   systemd/install.sh --root DIR      install into a scratch root (for testing; no user, no chown, no systemctl)
# Re-running it upgrades the jar, the unit and the helper files, and keeps the config, logging config and master key.
set -euo pipefail
root=""
while [ $# -gt 0 ]; do
  case "$1" in
    --root) [ $# -ge 2 ] || { echo "--root needs a directory" >&2; exit 2; }; root="$(mkdir -p "$2" && cd "$2" && pwd)"; shift 2 ;;
    -h|--help) sed -n '2,5p' "$0"; exit 0 ;;
    *) echo "unknown argument: $1" >&2; exit 2 ;;
  esac
done
if [ -z "$root" ] && [ "$(id -u)" -ne 0 ]; then
  echo "install.sh: run as root to install into / (or use --root DIR)" >&2
  exit 2
fi
src="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
# MAILPROXY_JAR: install this jar instead of the build's (tests of the layout)
jar="${MAILPROXY_JAR:-$src/proxy-daemon/target/mailproxy.jar}"
[ -f "$jar" ] || (cd "$src" && mvn -B -q -DskipTests package -pl proxy-daemon -am)

install -d -m 0755 "$root/opt/mailproxy" "$root/opt/mailproxy/bin" "$root/etc/systemd/system" \
  "$root/usr/lib/sysusers.d" "$root/usr/lib/tmpfiles.d" "$root/usr/local/bin"
install -m 0644 "$jar" "$root/opt/mailproxy/mailproxy.jar"
install -m 0644 "$src/README.md" "$root/opt/mailproxy/README.md"
install -m 0755 "$src/systemd/mailproxy-admin" "$root/opt/mailproxy/bin/mailproxy"
ln -sfn /opt/mailproxy/bin/mailproxy "$root/usr/local/bin/mailproxy"
install -m 0644 "$src/systemd/mailproxy.service" "$root/etc/systemd/system/mailproxy.service"
install -m 0644 "$src/systemd/mailproxy.sysusers" "$root/usr/lib/sysusers.d/mailproxy.conf"
install -m 0644 "$src/systemd/mailproxy.tmpfiles" "$root/usr/lib/tmpfiles.d/mailproxy.conf"
install -d -m 0750 "$root/etc/mailproxy"
if [ ! -f "$root/etc/mailproxy/mailproxy.conf" ]; then
  # The example, with state-dir set to /var/lib/mailproxy (the unit's StateDirectory): the service gets it from
  # $STATE_DIRECTORY too, but an administrator's `mailproxy status` or `secret set` reads it from this file.
  sed 's%^\( *\)\(# *\)\{0,1\}state-dir = .*%\1state-dir = "/var/lib/mailproxy"%' "$src/conf/mailproxy.conf" \
    > "$root/etc/mailproxy/mailproxy.conf"
  grep -q '^ *state-dir = "/var/lib/mailproxy"' "$root/etc/mailproxy/mailproxy.conf" \
    || printf '\nmailproxy.state-dir = "/var/lib/mailproxy"\n' >> "$root/etc/mailproxy/mailproxy.conf"
  chmod 0640 "$root/etc/mailproxy/mailproxy.conf"
fi
[ -f "$root/etc/mailproxy/logback.xml" ] || install -m 0644 "$src/conf/logback.xml" "$root/etc/mailproxy/logback.xml"
[ -f "$root/etc/mailproxy/logback-json.xml" ] \
  || install -m 0644 "$src/conf/logback-json.xml" "$root/etc/mailproxy/logback-json.xml"
if [ ! -f "$root/etc/mailproxy/master.key" ]; then
  # 32 random bytes, raw: the secret store reads $CREDENTIALS_DIRECTORY/mailproxy-master-key as raw 32 bytes (base64
  # and hex also work). Only root reads it; systemd hands it to the service (LoadCredential). Back it up: without it
  # the secret store and the refresh tokens in /var/lib/mailproxy cannot be read.
  (umask 077; head -c 32 /dev/urandom > "$root/etc/mailproxy/master.key.tmp" \
    && mv "$root/etc/mailproxy/master.key.tmp" "$root/etc/mailproxy/master.key")
  chmod 0400 "$root/etc/mailproxy/master.key"
fi
[ "$(wc -c < "$root/etc/mailproxy/master.key")" -ge 32 ] \
  || { echo "install.sh: $root/etc/mailproxy/master.key is not a 32-byte key" >&2; exit 1; }

if [ -z "$root" ]; then
  systemd-sysusers /usr/lib/sysusers.d/mailproxy.conf
  systemd-tmpfiles --create /usr/lib/tmpfiles.d/mailproxy.conf
  chown root:root /etc/mailproxy/master.key
  chown root:mailproxy /etc/mailproxy /etc/mailproxy/mailproxy.conf
  systemctl daemon-reload
  echo "installed; edit /etc/mailproxy/mailproxy.conf, then: systemctl enable --now mailproxy"
  echo "back up /etc/mailproxy/master.key: the secret store cannot be read without it"
else
  echo "installed into $root"
fi
