#!/usr/bin/env bash
# Offline stand-ins for the images docker-compose.yml pulls, built from this
# machine's Debian packages with `docker import` (no registry is reachable):
#
#   images.sh redis TAG     Debian's redis-server + redis-cli and the shared
#                           libraries ldd lists, plus a minimal /etc and /data.
#                           Same command names and data dir as redis:7-alpine.
#   images.sh busybox TAG   busybox-static with its applet symlinks (a tiny
#                           "nginx" for the sensor's container tests).
#
# Needs root, a running Docker engine, redis-server (redis) or busybox-static.
set -euo pipefail

# up_to_date TAG KEY: true when TAG exists and was built from KEY (a hash of
# the inputs), so repeated runs skip the slow import.
up_to_date() {
  [ "$(docker image inspect --format '{{index .Config.Labels "saker.e2e.source"}}' "$1" 2>/dev/null)" = "$2" ]
}

# copy_with_libs SRC DEST_IN_ROOTFS ROOT: copies a dynamically linked binary
# and every library ldd resolves for it (plus the dynamic loader) into ROOT.
copy_with_libs() {
  local src="$1" dest="$2" root="$3" lib
  mkdir -p "$root$(dirname "$dest")"
  cp -L "$src" "$root$dest"
  for lib in $(ldd "$src" | grep -oE '/[^ ]+' | sort -u); do
    [ -e "$lib" ] || continue
    mkdir -p "$root$(dirname "$lib")"
    cp -L "$lib" "$root$lib"
  done
}

build_redis() {
  local tag="$1" root server cli key
  server="$(command -v redis-server)" || { echo "images.sh: redis-server not installed" >&2; return 1; }
  cli="$(command -v redis-cli)" || { echo "images.sh: redis-cli not installed" >&2; return 1; }
  key="$(cat "$0" "$server" "$cli" | sha256sum | cut -c1-32)"
  up_to_date "$tag" "$key" && return 0
  root="$(mktemp -d /tmp/saker-redis-rootfs.XXXXXX)"
  # Debian's redis-server is a symlink to redis-check-rdb; redis picks its mode
  # from argv[0], so the copy must be named redis-server.
  copy_with_libs "$server" /usr/local/bin/redis-server "$root"
  copy_with_libs "$cli" /usr/local/bin/redis-cli "$root"
  mkdir -p "$root/etc" "$root/data" "$root/tmp"
  chmod 1777 "$root/tmp"
  printf 'root:x:0:0:root:/root:/bin/false\nredis:x:999:1000:redis:/data:/bin/false\n' >"$root/etc/passwd"
  printf 'root:x:0:\nredis:x:1000:\n' >"$root/etc/group"
  printf 'hosts: files dns\n' >"$root/etc/nsswitch.conf"
  tar -C "$root" -c . | docker import \
    --change 'ENV PATH=/usr/local/bin:/usr/bin:/bin' \
    --change 'WORKDIR /data' \
    --change 'VOLUME /data' \
    --change 'EXPOSE 6379' \
    --change 'CMD ["redis-server"]' \
    --change "LABEL saker.e2e.source=$key" \
    - "$tag" >/dev/null
  rm -rf "$root"
}

build_busybox() {
  local tag="$1" root bb applet key
  bb=/bin/busybox
  [ -x "$bb" ] || bb="$(command -v busybox)" || { echo "images.sh: busybox-static not installed" >&2; return 1; }
  if ldd "$bb" >/dev/null 2>&1; then
    echo "images.sh: $bb is dynamically linked; install busybox-static" >&2
    return 1
  fi
  key="$(cat "$0" "$bb" | sha256sum | cut -c1-32)"
  up_to_date "$tag" "$key" && return 0
  root="$(mktemp -d /tmp/saker-busybox-rootfs.XXXXXX)"
  mkdir -p "$root/bin" "$root/etc" "$root/tmp" "$root/usr/bin" "$root/usr/sbin" "$root/root"
  chmod 1777 "$root/tmp"
  cp "$bb" "$root/bin/busybox"
  for applet in $("$bb" --list); do
    [ -e "$root/bin/$applet" ] || ln -s busybox "$root/bin/$applet"
  done
  printf 'root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/:/bin/false\n' >"$root/etc/passwd"
  printf 'root:x:0:\nnobody:x:65534:\n' >"$root/etc/group"
  tar -C "$root" -c . | docker import \
    --change 'ENV PATH=/usr/local/bin:/usr/bin:/bin:/usr/sbin:/sbin' \
    --change 'CMD ["sh"]' \
    --change "LABEL saker.e2e.source=$key" \
    - "$tag" >/dev/null
  rm -rf "$root"
}

case "${1:-}" in
  redis) build_redis "${2:?tag}" ;;
  busybox) build_busybox "${2:?tag}" ;;
  *) echo "usage: $0 redis|busybox TAG" >&2; exit 2 ;;
esac
