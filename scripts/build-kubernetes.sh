#!/usr/bin/env bash
# Builds kube-apiserver and kube-controller-manager 1.20.2 from Debian bookworm's source package,
# once, and caches them. Nothing here touches the system's apt configuration.
set -euo pipefail
VERSION=1.20.2
CACHE="${DOCKYARD_K8S_CACHE:-$HOME/.cache/dockyard/kubernetes-$VERSION}"
cached() { [ -x "$CACHE/kube-apiserver" ] && [ -x "$CACHE/kube-controller-manager" ]; }
if cached; then echo "kubernetes $VERSION: cached in $CACHE"; exit 0; fi
# One build at a time per cache (a dev `make cluster` and a CI run on the same machine).
mkdir -p "$(dirname "$CACHE")"
exec 9>"$CACHE.lock"
if ! flock -n 9; then
  echo "kubernetes $VERSION: another build is running; waiting for it"
  flock 9
fi
if cached; then echo "kubernetes $VERSION: cached in $CACHE"; exit 0; fi
# Kubernetes 1.20 is built with the Go of its day, Debian bookworm's (1.19), never with whatever `go`
# comes first on PATH: a newer toolchain (such as /usr/local/go) refuses parts of its vendored code.
GO_HOME=/usr/lib/go-1.19
need=()
[ -x "$GO_HOME/bin/go" ] || need+=(golang-1.19-go)
command -v rsync >/dev/null || need+=(rsync)
command -v etcd >/dev/null || need+=(etcd-server)
[ -d /usr/share/gocode/src/github.com/modern-go/reflect2 ] || need+=(golang-github-modern-go-reflect2-dev)
command -v dpkg-source >/dev/null || need+=(dpkg-dev)
if [ ${#need[@]} -gt 0 ]; then
  "$(dirname "$0")/apt-install.sh" "${need[@]}"
fi
WORK="$CACHE.build"
mkdir -p "$WORK/apt/lists/partial" "$WORK/src"
MIRROR=$(awk '/^URIs:/{print $2; exit}' /etc/apt/sources.list.d/debian.sources 2>/dev/null || true)
MIRROR=${MIRROR:-http://deb.debian.org/debian}
cat > "$WORK/apt/sources.list" <<SRC
SRC
cat > "$WORK/apt/debian-src.sources" <<SRC
Types: deb-src
URIs: $MIRROR
Suites: bookworm
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
SRC
APTOPTS=(-o Dir::Etc::SourceList="$WORK/apt/sources.list" -o Dir::Etc::SourceParts="$WORK/apt/parts"
         -o Dir::State::Lists="$WORK/apt/lists" -o Dir::Cache::pkgcache= -o Dir::Cache::srcpkgcache=)
mkdir -p "$WORK/apt/parts"; cp "$WORK/apt/debian-src.sources" "$WORK/apt/parts/"
cd "$WORK/src"
if ! ls -d kubernetes-*/ >/dev/null 2>&1; then
  echo "downloading Debian's kubernetes source package"
  apt-get "${APTOPTS[@]}" update -qq
  apt-get "${APTOPTS[@]}" source --download-only kubernetes
  dpkg-source --no-check -x kubernetes_*.dsc >/dev/null
fi
SRCDIR=$(ls -d "$WORK"/src/kubernetes-*/ | head -1)
rm -rf "$SRCDIR/vendor/github.com/modern-go/reflect2"
cp -r /usr/share/gocode/src/github.com/modern-go/reflect2 "$SRCDIR/vendor/github.com/modern-go/reflect2"
export PATH="$GO_HOME/bin:$PATH" GOTOOLCHAIN=local
unset GOROOT
echo "building with $(go version)"
export GOPATH="$WORK/gopath"
mkdir -p "$GOPATH/src/k8s.io"
ln -sfn "$SRCDIR" "$GOPATH/src/k8s.io/kubernetes"
cd "$GOPATH/src/k8s.io/kubernetes"
echo "building kube-apiserver and kube-controller-manager (about 10 minutes)"
export GO111MODULE=off GOFLAGS=-mod=vendor CGO_ENABLED=0
if ! KUBE_GIT_VERSION=v$VERSION KUBE_GIT_TREE_STATE=clean make WHAT="cmd/kube-apiserver cmd/kube-controller-manager"; then
  echo "error: the Kubernetes build failed (see the compiler output above; sources in $SRCDIR)" >&2
  exit 1
fi
# Install atomically: a concurrent reader never sees half a binary.
mkdir -p "$CACHE.tmp"
cp _output/bin/kube-apiserver _output/bin/kube-controller-manager "$CACHE.tmp/"
rm -rf "$CACHE"
mv "$CACHE.tmp" "$CACHE"
echo "kubernetes $VERSION: built into $CACHE"
