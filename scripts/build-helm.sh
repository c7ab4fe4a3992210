#!/usr/bin/env bash
# Builds Helm (helm.sh/helm/v4 by default; `scripts/build-helm.sh v3.21.4` for the Helm 3 the chart is
# also checked with), pinned, from its Go module, once, and caches it: the chart's tests run `helm lint`,
# `helm template` and `helm install` with it. Checksums are verified by the Go tooling.
set -euo pipefail
VERSION=${1:-v4.3.2}
case "$VERSION" in v4.3.2|v3.21.4) ;; *) echo "error: helm $VERSION is not one of the pinned versions (v4.3.2, v3.21.4)" >&2; exit 1;; esac
MAJOR=${VERSION%%.*}  # v4 or v3: the module path's major version
MIN_GO=1.26.0
CACHE="${DOCKYARD_HELM_CACHE:-$HOME/.cache/dockyard/helm-${VERSION#v}}"
P="helm $VERSION:"
if [ -x "$CACHE/helm" ]; then echo "$P cached in $CACHE"; exit 0; fi
mkdir -p "$(dirname "$CACHE")"
exec 9>"$CACHE.lock"
flock -n 9 || { echo "$P another build is running; waiting for it"; flock 9; }
if [ -x "$CACHE/helm" ]; then echo "$P cached in $CACHE"; exit 0; fi
fail() { echo "error: $*" >&2; exit 1; }
if ! command -v go >/dev/null && [ -x /usr/local/go/bin/go ]; then export PATH="/usr/local/go/bin:$PATH"; fi
command -v go >/dev/null || fail "no Go toolchain found (need Go >= $MIN_GO on PATH or in /usr/local/go)"
export GOTOOLCHAIN="${GOTOOLCHAIN:-local}" GOFLAGS=-mod=mod CGO_ENABLED=0 GOWORK=off
[ "$(go env GOSUMDB)" != off ] || fail "GOSUMDB=off: the Go modules could not be verified; unset it for this build"
GO_CACHES="${DOCKYARD_GO_CACHE:-$HOME/.cache/dockyard/go}"
export GOMODCACHE="$GO_CACHES/mod" GOCACHE="$GO_CACHES/build"
WORK="$CACHE.build"; OUT="$CACHE.tmp"
rm -rf "$WORK" "$OUT"; mkdir -p "$WORK" "$OUT"
cd "$WORK"
printf 'module dockyard.local/build/helm\n\ngo %s\n' "$MIN_GO" > go.mod
echo "$P resolving its Go modules"
go get -tool "helm.sh/helm/$MAJOR/cmd/helm@$VERSION" > get.log 2>&1 \
  || { tail -n 15 get.log >&2; fail "resolving helm $VERSION's Go modules failed (full log: $WORK/get.log)"; }
echo "$P building (about 3 minutes cold on two cores, seconds warm)"
LD="-s -w -X helm.sh/helm/$MAJOR/internal/version.version=$VERSION"
nice -n 19 go build -trimpath -ldflags "$LD" -o "$OUT/helm" "helm.sh/helm/$MAJOR/cmd/helm" > build.log 2>&1 \
  || { tail -n 15 build.log >&2; fail "building helm $VERSION failed (full log: $WORK/build.log)"; }
"$OUT/helm" version --short >/dev/null 2>&1 || fail "the built helm does not run"
rm -rf "$CACHE"; mv "$OUT" "$CACHE"
echo "$P built into $CACHE ($("$CACHE/helm" version --short))"
