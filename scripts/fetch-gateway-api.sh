#!/usr/bin/env bash
# Fetches the Gateway API CRDs (standard channel) of sigs.k8s.io/gateway-api, pinned, from the Go module
# proxy (the module's zip carries config/crd/standard/*.yaml; its checksum is verified by the Go tooling
# against go.sum's database), once, into the cache; the local control plane installs them at start.
set -euo pipefail
VERSION=v1.6.3
MODULE=sigs.k8s.io/gateway-api
CACHE="${DOCKYARD_GATEWAY_API_CACHE:-$HOME/.cache/dockyard/gateway-api-${VERSION#v}}"
P="gateway-api $VERSION:"
if [ -f "$CACHE/kustomization.yaml" ]; then echo "$P cached in $CACHE"; exit 0; fi
mkdir -p "$(dirname "$CACHE")"
exec 9>"$CACHE.lock"
flock -n 9 || { echo "$P another fetch is running; waiting for it"; flock 9; }
if [ -f "$CACHE/kustomization.yaml" ]; then echo "$P cached in $CACHE"; exit 0; fi
fail() { echo "error: $*" >&2; exit 1; }
if ! command -v go >/dev/null && [ -x /usr/local/go/bin/go ]; then export PATH="/usr/local/go/bin:$PATH"; fi
command -v go >/dev/null || fail "no Go toolchain found (need one on PATH or in /usr/local/go to fetch $MODULE)"
export GOTOOLCHAIN="${GOTOOLCHAIN:-local}" GOFLAGS=-mod=mod GOWORK=off
[ "$(go env GOSUMDB)" != off ] || fail "GOSUMDB=off: the module could not be verified; unset it for this fetch"
GO_CACHES="${DOCKYARD_GO_CACHE:-$HOME/.cache/dockyard/go}"
export GOMODCACHE="$GO_CACHES/mod" GOCACHE="$GO_CACHES/build"
OUT="$CACHE.tmp"
rm -rf "$OUT"; mkdir -p "$OUT"
echo "$P downloading $MODULE@$VERSION from the Go module proxy"
go mod download -json "$MODULE@$VERSION" > "$OUT/download.json" 2> "$OUT/download.log" \
  || { tail -n 5 "$OUT/download.log" >&2; fail "downloading $MODULE@$VERSION failed (log: $OUT/download.log)"; }
DIR=$(sed -n 's/^[[:space:]]*"Dir": "\(.*\)",$/\1/p' "$OUT/download.json")
[ -n "$DIR" ] && [ -d "$DIR/config/crd/standard" ] || fail "$MODULE@$VERSION has no config/crd/standard (see $OUT/download.json)"
cp "$DIR"/config/crd/standard/*.yaml "$OUT/"
# The standard channel's install order (the module's config/crd/kustomization.yaml, standard/ only).
sed -n 's|^  - standard/\(.*\.yaml\)$|\1|p' "$DIR/config/crd/kustomization.yaml" > "$OUT/order.txt"
[ -s "$OUT/order.txt" ] || fail "$MODULE@$VERSION: config/crd/kustomization.yaml lists no standard CRDs"
while read -r f; do [ -f "$OUT/$f" ] || fail "$MODULE@$VERSION: $f is listed but missing"; done < "$OUT/order.txt"
cp "$DIR/config/crd/kustomization.yaml" "$OUT/kustomization.yaml"
chmod -R u+w "$OUT"
rm -rf "$CACHE"; mv "$OUT" "$CACHE"
echo "$P CRDs in $CACHE ($(wc -l < "$CACHE/order.txt") files)"
