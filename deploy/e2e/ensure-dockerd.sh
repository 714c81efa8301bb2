#!/usr/bin/env bash
# Makes sure a Docker engine answers on /var/run/docker.sock, starting dockerd
# in the background when none does. Safe to call from several tests at once
# (a lock serialises the check-and-start). The daemon is left running, as a
# system service would be; its log goes to a temp file named on stderr.
#
# What works on our CI/dev machines (checked 2026-11-23, Debian 12, Docker
# 20.10, kernel 6.18, cgroup v1, no CAP_SYS_RESOURCE in the bounding set):
# plain `dockerd` with the overlay2 storage driver, iptables and the default
# bridge. --privileged containers fail there (Docker asks for every
# capability), so nothing here or in docker-compose.yml uses it. The fallbacks
# below (vfs storage, then --iptables=false) are tried only if the default
# start fails, for hosts where overlayfs or iptables are unavailable.
set -euo pipefail

if docker info >/dev/null 2>&1; then
  exit 0
fi
[ "$(id -u)" = 0 ] || { echo "ensure-dockerd: no Docker engine answers and we are not root" >&2; exit 1; }
command -v dockerd >/dev/null || { echo "ensure-dockerd: dockerd not installed (apt-get install docker.io)" >&2; exit 1; }

exec 9>/tmp/saker-dockerd.lock
if ! flock -w 120 9; then
  docker info >/dev/null 2>&1 && exit 0
  echo "ensure-dockerd: timed out waiting for the dockerd lock" >&2
  exit 1
fi
if docker info >/dev/null 2>&1; then
  exit 0 # another caller started it while we waited
fi

# try_start FLAGS...: starts dockerd with FLAGS and waits up to 30 s for it.
try_start() {
  local log pid i
  log="$(mktemp /tmp/saker-dockerd.XXXXXX.log)"
  echo "ensure-dockerd: starting dockerd $* (log: $log)" >&2
  # setsid + every fd redirected: the daemon must not hold the caller's
  # stdout/stderr open (go test would wait for it forever).
  # 9>&-: the daemon must not inherit (and so hold forever) the lock.
  setsid dockerd "$@" </dev/null >"$log" 2>&1 9>&- &
  pid=$!
  for i in $(seq 1 60); do
    if docker info >/dev/null 2>&1; then
      echo "ensure-dockerd: dockerd (pid $pid) is up" >&2
      return 0
    fi
    if ! kill -0 "$pid" 2>/dev/null; then
      break
    fi
    sleep 0.5
  done
  echo "ensure-dockerd: dockerd $* did not come up; last log lines:" >&2
  tail -n 15 "$log" >&2 || true
  kill "$pid" 2>/dev/null || true
  wait "$pid" 2>/dev/null || true
  # a dead daemon can leave its pid file and socket behind
  rm -f /var/run/docker.pid
  return 1
}

try_start && exit 0
try_start --storage-driver=vfs && exit 0
try_start --storage-driver=vfs --iptables=false --ip-masq=false && exit 0
echo "ensure-dockerd: could not start a Docker engine" >&2
exit 1
