#!/usr/bin/env bash
# Runs mailproxy's benchmarks against a Dovecot upstream in its own process; see docs/BENCHMARKS.md.
#
#   bench/run.sh [pool|imap-fetch|imap-login|imap-idle|pop3|smtp|imap-hostile|all ...] [--runs N] [--warmups N]
#   bench/run.sh graph-smtp graph-pop3 [--runs N]   (the Microsoft Graph upstream: testkit's FakeGraph in the bench JVM)
#   bench/run.sh queue [--runs N]       (the SMTP queue, in-process: no Dovecot, no daemon)
#   bench/run.sh ha-kill [--runs N]     (two daemons behind HAProxy, one killed with SIGKILL; 3 runs by default)
#
# Builds what is needed (the bench jar; the daemon jar unless only `pool` or `queue` runs), installs Dovecot with apt-get when
# it is missing, then runs the named benchmarks (default: all). Everything listens on loopback only (Dovecot on
# 127.0.0.2, the daemon and the bench's identity provider on 127.0.0.1); Dovecot, the daemon and the scratch
# configuration live in a temporary directory and are stopped when the benchmark ends. Tables are printed and
# appended to bench/results/NAME.md. Needs root (Dovecot drops to its own users) and at least 5 runs (ha-kill: 1).
set -euo pipefail
cd "$(dirname "$0")/.."

names=()
for a in "$@"; do case "$a" in --*|[0-9]*) ;; *) names+=("$a");; esac; done

if [ "${names[*]}" != "queue" ] && ! command -v dovecot >/dev/null 2>&1; then
  apt-get update -q
  DEBIAN_FRONTEND=noninteractive apt-get install -y -q dovecot-core dovecot-imapd dovecot-pop3d dovecot-submissiond
fi

if [ "${names[*]}" = "ha-kill" ] && ! command -v haproxy >/dev/null 2>&1; then
  apt-get update -q
  DEBIAN_FRONTEND=noninteractive apt-get install -y -q haproxy
fi

modules=bench
if [ "${#names[@]}" -eq 0 ] || { [ "${names[*]}" != "pool" ] && [ "${names[*]}" != "queue" ]; }; then
  modules=bench,proxy-daemon
fi
mvn -B -q -o -pl "$modules" -am package -DskipTests 2>/dev/null || mvn -B -q -pl "$modules" -am package -DskipTests

# 2,000 IDLE sessions hold 2,000 sockets here, 4,000 in the daemon and 2,000+ in Dovecot; imap-hostile holds
# 10,000 silent sockets here
ulimit -n "$(ulimit -Hn)" 2>/dev/null || true
# a hung benchmark still ends: the whole run is bounded (override with BENCH_TIMEOUT seconds)
exec timeout -k 30 "${BENCH_TIMEOUT:-5400}" java -Xmx2g -jar bench/target/mailproxy-bench.jar "$@"
