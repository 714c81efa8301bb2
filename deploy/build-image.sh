#!/usr/bin/env bash
# Builds the saker image without pulling anything: a static binary built on
# this machine, then deploy/Dockerfile.prebuilt (FROM scratch).
#
#   deploy/build-image.sh [image-tag]      default: $SAKER_IMAGE or saker-sec/saker:latest
#
# Needs go and a running Docker engine.
set -euo pipefail
cd "$(dirname "$0")/.."
tag="${1:-${SAKER_IMAGE:-saker-sec/saker:latest}}"
version="$(git describe --tags --always --dirty 2>/dev/null || echo dev)"
ctx="$(mktemp -d /tmp/saker-image.XXXXXX)"
trap 'rm -rf "$ctx"' EXIT

CGO_ENABLED=0 go build -buildvcs=false -trimpath -ldflags "-s -w -X main.version=${version}" \
  -o "$ctx/saker" ./cmd/saker
mkdir -p "$ctx/rootfs/etc/ssl/certs" "$ctx/rootfs/etc/saker" "$ctx/rootfs/tmp" "$ctx/data"
cp sensor/defaultrules/saker_rules.yaml "$ctx/rootfs/etc/saker/"
: >"$ctx/data/.keep"
cp deploy/image/etc/passwd deploy/image/etc/group "$ctx/rootfs/etc/"
if [ -r /etc/ssl/certs/ca-certificates.crt ]; then
  cp /etc/ssl/certs/ca-certificates.crt "$ctx/rootfs/etc/ssl/certs/"
else
  echo "build-image: no /etc/ssl/certs/ca-certificates.crt on this host; TLS forwarders will need their own CA file" >&2
  : >"$ctx/rootfs/etc/ssl/certs/ca-certificates.crt"
fi
chmod 1777 "$ctx/rootfs/tmp"
docker build -q -f deploy/Dockerfile.prebuilt -t "$tag" "$ctx" >/dev/null
echo "$tag"
