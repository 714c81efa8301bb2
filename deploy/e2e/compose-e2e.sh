#!/usr/bin/env bash
# End-to-end test of the real docker-compose.yml (run as root; CI runs it via
# deploy's TestComposeE2E). Nothing is pulled: every image is built offline.
#
#  1. a Docker engine (ensure-dockerd.sh starts dockerd when none answers)
#  2. images: saker from a static binary (deploy/build-image.sh ->
#     Dockerfile.prebuilt), a Redis stand-in from Debian's redis-server tagged
#     as $REDIS_IMAGE, and a busybox-static test image tagged nginx:e2e
#  3. `docker-compose up -d` of the top-level docker-compose.yml, wait healthy
#  4. POST a Falco payload to :2801, read it back from the API on :2802
#  5. when `saker sensor` exists: a shell in a test container must reach the
#     hub as a "Terminal shell in container" alert (skipped, and said so,
#     while the binary has no sensor)
#  6. `docker-compose down` + `up`: the alert survives (Redis AOF, named volume)
#  7. `docker-compose down -v`
#
# Environment: SAKER_E2E_PROJECT (compose project, default sakere2e),
# SAKER_E2E_KEEP=1 (leave the stack up on exit), SAKER_E2E_REQUIRE_SENSOR=1
# (fail instead of skipping step 5).
set -euo pipefail
cd "$(dirname "$0")/../.."
repo="$PWD"

project="${SAKER_E2E_PROJECT:-sakere2e}"
export SAKER_IMAGE="${SAKER_E2E_SAKER_IMAGE:-saker-e2e/saker:ci}"
export REDIS_IMAGE="${SAKER_E2E_REDIS_IMAGE:-saker-e2e/redis:7}"
export SAKER_BIND_ADDRESS=127.0.0.1
export REDIS_PASSWORD="e2e-$RANDOM$RANDOM"
# The e2e reads the query API without a login.
export SAKER_UI_DISABLEAUTH=true
test_image=nginx:e2e
test_ctr="${project}-nginx"
t0=$(date +%s)

log() { printf '[compose-e2e %3ss] %s\n' "$(($(date +%s) - t0))" "$*" >&2; }
fail() { log "FAIL: $*"; exit 1; }

[ "$(id -u)" = 0 ] || fail "must run as root (dockerd, BPF sensor)"
for c in curl docker go; do command -v "$c" >/dev/null || fail "$c not installed"; done
if command -v docker-compose >/dev/null; then
  compose=(docker-compose)
elif docker compose version >/dev/null 2>&1; then
  compose=(docker compose)
else
  fail "neither docker-compose nor the docker compose plugin is installed"
fi

# free_port: a TCP port nothing listens on (other tests may hold 2801/2802).
free_port() {
  local p i
  for i in $(seq 1 50); do
    p=$((20000 + RANDOM % 20000))
    if ! ss -Hltn "sport = :$p" | grep -q .; then echo "$p"; return 0; fi
  done
  return 1
}
export SAKER_INGEST_PORT="$(free_port)" SAKER_UI_PORT="$(free_port)"
# The k8s audit port too: a fixed 9765 fails when two runs (or a local hub) hold it.
export SAKER_K8SAUDIT_PORT="$(free_port)"
ingest="http://127.0.0.1:$SAKER_INGEST_PORT"
ui="http://127.0.0.1:$SAKER_UI_PORT"

dc() { "${compose[@]}" -p "$project" -f "$repo/docker-compose.yml" --project-directory "$repo" "$@"; }

cleanup() {
  local rc=$?
  if [ "$rc" != 0 ]; then
    log "failed (exit $rc); container state and logs follow"
    dc ps >&2 || true
    dc logs --no-color --tail=60 >&2 || true
  fi
  if [ "${SAKER_E2E_KEEP:-}" = 1 ]; then
    log "SAKER_E2E_KEEP=1: leaving the stack up (project $project)"
    return
  fi
  docker rm -f "$test_ctr" >/dev/null 2>&1 || true
  dc down -v --remove-orphans >/dev/null 2>&1 || true
  log "stack removed (docker-compose down -v)"
}

# --- 1. engine -------------------------------------------------------------
"$repo/deploy/e2e/ensure-dockerd.sh"
log "docker engine: $(docker info --format '{{.ServerVersion}} storage={{.Driver}} cgroup={{.CgroupVersion}}' 2>/dev/null)"

# --- 2. images ---------------------------------------------------------------
SAKER_BUILD_REUSE_CACHE=1 "$repo/deploy/build-image.sh" "$SAKER_IMAGE" >/dev/null
log "built $SAKER_IMAGE (deploy/Dockerfile.prebuilt)"
"$repo/deploy/e2e/images.sh" redis "$REDIS_IMAGE"
log "built $REDIS_IMAGE (Debian redis-server stand-in)"
"$repo/deploy/e2e/images.sh" busybox "$test_image"
log "built $test_image (busybox-static)"

with_sensor=0
if docker run --rm --entrypoint /usr/bin/saker "$SAKER_IMAGE" sensor -h >/dev/null 2>&1; then
  with_sensor=1
fi

# --- 3. up -------------------------------------------------------------------
trap cleanup EXIT
dc down -v --remove-orphans >/dev/null 2>&1 || true # leftovers of an aborted run
up_args=(up -d --no-build)
if [ "$with_sensor" = 0 ]; then
  up_args+=(--scale sensor=0)
  log "SKIP sensor: this saker binary has no 'sensor' command yet; starting redis + hub only"
fi
dc "${up_args[@]}" >&2
log "docker-compose up -d: ingest $ingest, dashboard $ui"

# wait_healthy SERVICE SECONDS
wait_healthy() {
  local svc="$1" secs="$2" id st i
  id="$(dc ps -q "$svc")"
  [ -n "$id" ] || fail "no container for service $svc"
  for i in $(seq 1 $((secs * 2))); do
    # services without a health check count once running
    st="$(docker inspect --format '{{if .State.Health}}{{.State.Health.Status}}{{else}}{{.State.Status}}{{end}}' "$id")"
    case "$st" in healthy | running) log "$svc is $st"; return 0 ;; esac
    sleep 0.5
  done
  fail "$svc not healthy after ${secs}s (status $st)"
}
wait_healthy redis 60
wait_healthy hub 60

# --- 4. POST a Falco payload, read it back ------------------------------------
uuid="$(cat /proc/sys/kernel/random/uuid)"
rule="Compose e2e $uuid"
now="$(date -u +%Y-%m-%dT%H:%M:%S.%NZ)"
payload=$(cat <<JSON
{"uuid":"$uuid","output":"$now: Warning compose e2e alert (user=root command=sh)","priority":"Warning","rule":"$rule","time":"$now","output_fields":{"evt.time":$(date +%s)000000000,"proc.cmdline":"sh","user.name":"root","container.id":"e2ee2ee2ee2e"},"source":"syscalls","tags":["e2e","compose"],"hostname":"compose-e2e"}
JSON
)
code="$(curl -sS -o /tmp/saker-e2e-post.out -w '%{http_code}' -H 'Content-Type: application/json' --data "$payload" "$ingest/")"
[ "$code" = 200 ] || fail "POST $ingest/ answered $code: $(head -c 300 /tmp/saker-e2e-post.out)"
log "POST $ingest/ -> 200"

# find_event QUERY NEEDLE SECONDS: polls GET $ui/api/v1/events?QUERY until the
# body contains NEEDLE.
find_event() {
  local q="$1" needle="$2" secs="$3" body i
  for i in $(seq 1 $((secs * 2))); do
    body="$(curl -sS --max-time 5 "$ui/api/v1/events?$q" 2>/dev/null || true)"
    if printf '%s' "$body" | grep -qF -- "$needle"; then
      printf '%s' "$body"
      return 0
    fi
    sleep 0.5
  done
  log "last answer of GET $ui/api/v1/events?$q: $(printf '%s' "$body" | head -c 400)"
  return 1
}
rule_q="rule=$(printf '%s' "$rule" | sed 's/ /%20/g')"
find_event "$rule_q" "$uuid" 15 >/dev/null || fail "alert $uuid not found through $ui/api/v1/events"
log "GET $ui/api/v1/events?$rule_q -> alert $uuid found"

# --- 5. sensor: a shell in a container -> alert at the hub ----------------------
if [ "$with_sensor" = 1 ]; then
  wait_healthy sensor 60
  docker rm -f "$test_ctr" >/dev/null 2>&1 || true
  docker run -d --name "$test_ctr" "$test_image" sleep 600 >/dev/null
  ctr_id="$(docker inspect --format '{{.Id}}' "$test_ctr")"
  # The sensor attaches its probe after it reports healthy, so the shell is
  # retried until its alert shows up (bounded: 12 tries, ~60 s).
  # -it gives the shell a terminal, which the rule requires (proc.tty != 0);
  # `script` supplies the client-side pty since CI has no terminal.
  found=0
  for try in $(seq 1 12); do
    script -qec "docker exec -it $test_ctr sh -c 'echo saker-e2e; exit 0'" /dev/null </dev/null >/dev/null 2>&1 \
      || fail "docker exec -it into $test_ctr failed"
    if find_event "rule=Terminal%20shell%20in%20container" "${ctr_id:0:12}" 5 >/tmp/saker-e2e-sensor.json 2>/dev/null; then
      found=1
      break
    fi
  done
  if [ "$found" = 1 ]; then
    log "sensor alert 'Terminal shell in container' for container ${ctr_id:0:12} reached the hub (try $try)"
    grep -o '"output":"[^"]*' /tmp/saker-e2e-sensor.json | head -1 | cut -c11-300 >&2 || true
  else
    dc logs --no-color --tail=40 sensor >&2 || true
    fail "no 'Terminal shell in container' alert for ${ctr_id:0:12} at the hub"
  fi
else
  if [ "${SAKER_E2E_REQUIRE_SENSOR:-}" = 1 ]; then
    fail "SAKER_E2E_REQUIRE_SENSOR=1 but the binary has no sensor command"
  fi
  log "SKIPPED: sensor -> hub check (no 'saker sensor' in this build)"
fi

# --- 6. persistence across down && up -----------------------------------------
dc down >/dev/null 2>&1
log "docker-compose down (volumes kept)"
dc "${up_args[@]}" >/dev/null 2>&1
wait_healthy redis 60
wait_healthy hub 60
find_event "$rule_q" "$uuid" 15 >/dev/null || fail "alert $uuid lost across docker-compose down && up"
log "alert $uuid survived docker-compose down && up"

log "PASS ($(( $(date +%s) - t0 ))s)"
