#!/usr/bin/env bash
# Builds the single sign-on tests' OpenID Connect provider (devcluster/oidc_provider: zitadel/oidc's OP,
# github.com/zitadel/oidc/v3 pinned in its go.mod) once, and caches it. Its go.sum is committed and the
# build is -mod=readonly, so every module is checked against it. Prints the binary's path last.
set -euo pipefail
cd "$(dirname "$0")/.."
VERSION=v3.52.0
MIN_GO=1.26.0
SRC=devcluster/oidc_provider
grep -q "github.com/zitadel/oidc/v3 $VERSION" "$SRC/go.mod" || { echo "error: $SRC/go.mod does not pin zitadel/oidc $VERSION" >&2; exit 1; }
# The sources are part of the cache key: an edited main.go is built again.
DIGEST=$(cat "$SRC/main.go" "$SRC/go.mod" "$SRC/go.sum" | sha256sum | cut -c1-12)
CACHE="${DOCKYARD_OIDC_PROVIDER_CACHE:-$HOME/.cache/dockyard/oidc-provider-${VERSION#v}-$DIGEST}"
P="oidc-provider (zitadel/oidc $VERSION):"
if [ -x "$CACHE/oidc-provider" ]; then echo "$P cached in $CACHE" >&2; echo "$CACHE/oidc-provider"; exit 0; fi
mkdir -p "$(dirname "$CACHE")"
exec 9>"$CACHE.lock"
flock -n 9 || { echo "$P another build is running; waiting for it" >&2; flock 9; }
if [ -x "$CACHE/oidc-provider" ]; then echo "$P cached in $CACHE" >&2; echo "$CACHE/oidc-provider"; exit 0; fi
fail() { echo "error: $*" >&2; exit 1; }
if ! command -v go >/dev/null && [ -x /usr/local/go/bin/go ]; then export PATH="/usr/local/go/bin:$PATH"; fi
command -v go >/dev/null || fail "no Go toolchain found (need Go >= $MIN_GO on PATH or in /usr/local/go)"
export GOTOOLCHAIN="${GOTOOLCHAIN:-local}" GOFLAGS=-mod=readonly CGO_ENABLED=0 GOWORK=off
[ "$(go env GOSUMDB)" != off ] || fail "GOSUMDB=off: the Go modules could not be verified; unset it for this build"
GO_CACHES="${DOCKYARD_GO_CACHE:-$HOME/.cache/dockyard/go}"
export GOMODCACHE="$GO_CACHES/mod" GOCACHE="$GO_CACHES/build"
WORK="$CACHE.build"; OUT="$CACHE.tmp"
rm -rf "$WORK" "$OUT"; mkdir -p "$WORK" "$OUT"
cp "$SRC/main.go" "$SRC/go.mod" "$SRC/go.sum" "$WORK/"
cd "$WORK"
echo "$P downloading its Go modules (checked against go.sum)" >&2
go mod download > download.log 2>&1 \
  || { tail -n 15 download.log >&2; fail "downloading zitadel/oidc $VERSION's Go modules failed (full log: $WORK/download.log)"; }
echo "$P building (about half a minute cold on two cores)" >&2
nice -n 19 go build -trimpath -ldflags "-s -w" -o "$OUT/oidc-provider" . > build.log 2>&1 \
  || { tail -n 15 build.log >&2; fail "building the OIDC provider failed (full log: $WORK/build.log)"; }
"$OUT/oidc-provider" -h > /dev/null 2>&1 || [ $? = 2 ] || fail "the built oidc-provider does not run"
rm -rf "$CACHE"; mv "$OUT" "$CACHE"; rm -rf "$WORK"
echo "$P built into $CACHE" >&2
echo "$CACHE/oidc-provider"
