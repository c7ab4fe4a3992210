#!/usr/bin/env bash
# Builds kube-apiserver, kube-controller-manager and kubectl 1.37.2, etcd 3.6 and metrics-server 0.8 from Go
# modules, once, and caches them. Every version is pinned here; the Go tooling checks every module it
# fetches against the checksum database (through the scratch modules' go.sum), so nothing unverified
# is built. Nothing here touches the system's Go, apt or git configuration.
set -euo pipefail
VERSION=1.37.2                   # k8s.io/kubernetes
STAGING_VERSION=v0.37.2          # the k8s.io/* staging modules of that release
ETCD_VERSION=v3.6.16             # go.etcd.io/etcd/server/v3
METRICS_SERVER_VERSION=v0.8.0    # sigs.k8s.io/metrics-server
MIN_GO=1.26.0                    # what k8s.io/kubernetes and etcd's go.mod ask for
BINARIES=(kube-apiserver kube-controller-manager kubectl etcd metrics-server)
CACHE="${DOCKYARD_K8S_CACHE:-$HOME/.cache/dockyard/kubernetes-$VERSION}"
P="kubernetes $VERSION:"  # prefix of every progress line (devcluster's build log filter shows them)

cached() { local b; for b in "${BINARIES[@]}"; do [ -x "$CACHE/$b" ] || return 1; done; }
if cached; then echo "$P cached in $CACHE"; exit 0; fi
# One build at a time per cache (a dev `make cluster` and a CI run on the same machine).
mkdir -p "$(dirname "$CACHE")"
exec 9>"$CACHE.lock"
if ! flock -n 9; then
  echo "$P another build is running; waiting for it"
  flock 9
fi
if cached; then echo "$P cached in $CACHE"; exit 0; fi

# A half-built $OUT (set below) is dropped, so the only thing a failure leaves is the scratch dir with logs.
fail() { [ -n "${OUT:-}" ] && rm -rf "$OUT"; echo "error: $*" >&2; exit 1; }

# Never replace a folder that holds another build (DOCKYARD_K8S_CACHE may point anywhere).
if [ -e "$CACHE" ] && ! grep -qs "^kubernetes v$VERSION " "$CACHE/VERSIONS"; then
  fail "$CACHE exists but is not a Kubernetes $VERSION build of this script (no matching VERSIONS file); point DOCKYARD_K8S_CACHE elsewhere or remove it"
fi

# Go: the one on PATH, else the machine's /usr/local/go. GOTOOLCHAIN=local (unless the caller exports
# another), so a go.mod can never make the go command fetch a different toolchain behind our back.
if ! command -v go >/dev/null && [ -x /usr/local/go/bin/go ]; then export PATH="/usr/local/go/bin:$PATH"; fi
command -v go >/dev/null || fail "no Go toolchain found (need Go >= $MIN_GO on PATH or in /usr/local/go)"
export GOTOOLCHAIN="${GOTOOLCHAIN:-local}"
GOVER=$(go env GOVERSION 2>/dev/null || true)
if ! printf '%s\n%s\n' "go$MIN_GO" "$GOVER" | sort -V -C; then
  fail "Go $GOVER is too old: Kubernetes $VERSION needs Go >= $MIN_GO (or export GOTOOLCHAIN=go1.27.3)"
fi
# The checksum database is what verifies the modules; refuse to build without it.
[ "$(go env GOSUMDB)" != off ] || fail "GOSUMDB=off: the Go modules could not be verified; unset it for this build"
# Module and build caches beside the binaries' cache, so reruns (and CI on the same machine) are fast.
GO_CACHES="${DOCKYARD_GO_CACHE:-$HOME/.cache/dockyard/go}"
export GOMODCACHE="$GO_CACHES/mod" GOCACHE="$GO_CACHES/build"
# -mod=mod: the scratch modules' go.mod/go.sum are written here, from the pins above. Static binaries.
export GOFLAGS=-mod=mod CGO_ENABLED=0
# Host binaries, outside any go.work the caller may have.
unset GOROOT GOBIN GOOS GOARCH
export GOWORK=off

WORK="$CACHE.build"    # scratch modules and logs; small, kept for a look after a failure
OUT="$CACHE.tmp"
rm -rf "$WORK" "$OUT"
mkdir -p "$WORK/logs" "$OUT"
T0=$SECONDS
# Runs one step with the go command's chatter in a log; on failure shows its tail and one error line.
step() {
  local what=$1 log="$WORK/logs/$2.log"; shift 2
  local t=$SECONDS
  if ! nice -n 19 "$@" >"$log" 2>&1; then
    sed 's/^/    /' "$log" | tail -n 25 >&2
    local why
    why=$(grep -m1 -E '^go: |\.go:[0-9]+:[0-9]+: |: (cannot|missing|no required|invalid)|Forbidden|not found' "$log" \
          || tail -n 1 "$log")
    fail "$what failed: ${why:-no output} (full log: $log)"
  fi
  echo "$P   $what: done in $((SECONDS - t)) s"
}
echo "$P building with $GOVER into $CACHE (Go caches in $GO_CACHES)"

# 1. kube-apiserver and kube-controller-manager. k8s.io/kubernetes points its k8s.io/* modules at
# ./staging/src/..., which a module zip can't use; the scratch module replaces each one (the list is
# read from the release's own go.mod) with the published module of the same release.
echo "$P [1/6] fetching k8s.io/kubernetes v$VERSION (seconds)"
mkdir -p "$WORK/kubernetes"
cd "$WORK/kubernetes"
printf 'module dockyard.local/build/kubernetes\n\ngo %s\n' "$MIN_GO" > go.mod
step "fetching k8s.io/kubernetes v$VERSION" fetch-kubernetes go mod download -x "k8s.io/kubernetes@v$VERSION"
KMOD="$GOMODCACHE/cache/download/k8s.io/kubernetes/@v/v$VERSION.mod"
STAGING=$(awk '/^replace \(/{r=1; next} r && /^\)/{r=0} r && $2 == "=>" && $3 ~ /^\.\/staging\// {print $1}' "$KMOD")
[ -n "$STAGING" ] || fail "k8s.io/kubernetes v$VERSION: found no staging replace block in $KMOD"
{
  printf 'module dockyard.local/build/kubernetes\n\ngo %s\n\n' "$MIN_GO"
  printf 'require k8s.io/kubernetes v%s\n\n' "$VERSION"
  printf 'tool (\n\tk8s.io/kubernetes/cmd/kube-apiserver\n\tk8s.io/kubernetes/cmd/kube-controller-manager\n\tk8s.io/kubernetes/cmd/kubectl\n)\n\n'
  printf 'replace (\n'
  for m in $STAGING; do printf '\t%s => %s %s\n' "$m" "$m" "$STAGING_VERSION"; done
  printf ')\n'
} > go.mod
echo "$P [2/6] resolving and verifying Kubernetes' modules (about 15 s here; ~1 GB of modules on a cold cache)"
step "resolving Kubernetes' Go modules" tidy-kubernetes go mod tidy
echo "$P [3/6] building kube-apiserver, kube-controller-manager and kubectl (about 10 minutes cold on 2 cores, seconds warm)"
BUILD_DATE=$(date -u +%Y-%m-%dT%H:%M:%SZ)
KLD="-s -w"
# The same version variables as hack/lib/version.sh, so --version and /version say v1.37.2 (and the
# compatibility-version logic sees the real release). A module zip has no git commit: gitCommit is
# emptied rather than left as the placeholder "$Format:%H$".
for pkg in k8s.io/component-base/version k8s.io/client-go/pkg/version; do
  KLD+=" -X $pkg.gitVersion=v$VERSION -X $pkg.gitMajor=${VERSION%%.*}"
  KLD+=" -X $pkg.gitMinor=$(echo "$VERSION" | cut -d. -f2) -X $pkg.gitTreeState=clean -X $pkg.buildDate=$BUILD_DATE -X $pkg.gitCommit="
done
step "building kube-apiserver/kube-controller-manager/kubectl v$VERSION" build-kubernetes \
  go build -trimpath -tags selinux,notest,grpcnotrace -ldflags "$KLD" -o "$OUT/" \
  k8s.io/kubernetes/cmd/kube-apiserver k8s.io/kubernetes/cmd/kube-controller-manager k8s.io/kubernetes/cmd/kubectl

# 2. etcd: the server module's root package is etcd's main (a wrapper around etcdmain).
echo "$P [4/6] building etcd $ETCD_VERSION (under a minute after Kubernetes: they share most dependencies)"
mkdir -p "$WORK/etcd"
cd "$WORK/etcd"
printf 'module dockyard.local/build/etcd\n\ngo %s\n\nrequire go.etcd.io/etcd/server/v3 %s\n\ntool go.etcd.io/etcd/server/v3\n' \
  "$MIN_GO" "$ETCD_VERSION" > go.mod
step "resolving etcd $ETCD_VERSION's Go modules" tidy-etcd go mod tidy
step "building etcd $ETCD_VERSION" build-etcd \
  go build -trimpath -ldflags "-s -w" -o "$OUT/etcd" \
  go.etcd.io/etcd/server/v3

# 3. metrics-server, with its own k8s.io module versions (a separate scratch module).
echo "$P [5/6] building metrics-server $METRICS_SERVER_VERSION (about 3-4 minutes cold: its own k8s.io versions)"
mkdir -p "$WORK/metrics-server"
cd "$WORK/metrics-server"
printf 'module dockyard.local/build/metrics-server\n\ngo %s\n' "$MIN_GO" > go.mod
step "resolving metrics-server $METRICS_SERVER_VERSION's Go modules" tidy-metrics-server \
  go get -tool "sigs.k8s.io/metrics-server/cmd/metrics-server@$METRICS_SERVER_VERSION"
MLD="-s -w"
for pkg in k8s.io/client-go/pkg/version k8s.io/component-base/version; do
  MLD+=" -X $pkg.gitVersion=$METRICS_SERVER_VERSION -X $pkg.gitTreeState=clean -X $pkg.buildDate=$BUILD_DATE"
done
step "building metrics-server $METRICS_SERVER_VERSION" build-metrics-server \
  go build -trimpath -ldflags "$MLD" -o "$OUT/metrics-server" sigs.k8s.io/metrics-server/cmd/metrics-server

echo "$P [6/6] checking and installing"
for b in "${BINARIES[@]}"; do
  [ -x "$OUT/$b" ] || fail "the build finished but $OUT/$b is missing"
done
v=$("$OUT/kube-apiserver" --version 2>&1 || true)
[ "$v" = "Kubernetes v$VERSION" ] || fail "kube-apiserver --version printed '$v', not 'Kubernetes v$VERSION'"
{
  echo "kubernetes v$VERSION (k8s.io/* $STAGING_VERSION)"
  echo "etcd $ETCD_VERSION"
  echo "metrics-server $METRICS_SERVER_VERSION"
  echo "built with $GOVER on $BUILD_DATE"
} > "$OUT/VERSIONS"
# Install atomically: a concurrent reader never sees half a binary.
rm -rf "$CACHE"
mv "$OUT" "$CACHE"
echo "$P built into $CACHE in $(((SECONDS - T0) / 60)) min $(((SECONDS - T0) % 60)) s"
