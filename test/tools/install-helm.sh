#!/usr/bin/env bash
# install-helm.sh [-h]
#
# Builds Helm (helm.sh/helm/v3, HELM_VERSION, default v3.22.0) from the Go module
# proxy into ${KUBEPULSE_TOOLS_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/kubepulse-tools}
# and prints the binary's path on stdout. Idempotent: a binary that already reports
# the wanted version is reused (about 0.1 s). Helm is built in a throwaway module
# inside the cache, so kubepulse's own go.mod never sees Helm's dependencies.
# A lock lets parallel callers (make, tests) wait for one build.
# Cold build: several minutes of CPU (Helm pulls in client-go and friends).
set -euo pipefail

[[ ${1:-} == -h || ${1:-} == --help ]] && { sed -n '2,10s/^# \{0,1\}//p' "$0"; exit 0; }

HELM_VERSION=${HELM_VERSION:-v3.22.0}
CACHE=${KUBEPULSE_TOOLS_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/kubepulse-tools}
DIR=$CACHE/helm-$HELM_VERSION
BIN=$DIR/bin/helm
# Bump when the build below changes, so that cached binaries are rebuilt.
RECIPE=2
log() { echo "install-helm.sh: $*" >&2; }

have() {
  [[ -x $BIN && $(cat "$DIR/recipe" 2>/dev/null) == "$RECIPE" ]] &&
    "$BIN" version --template '{{.Version}}' 2>/dev/null | grep -qx "$HELM_VERSION"
}

mkdir -p "$CACHE"
exec 9>"$CACHE/helm.lock"
flock 9
if have; then
  echo "$BIN"
  exit 0
fi

log "building helm $HELM_VERSION (first time only) into $DIR"
start=$(date +%s)
rm -rf "$DIR.tmp"
mkdir -p "$DIR.tmp/src" "$DIR.tmp/bin"
(
  cd "$DIR.tmp/src"
  export GOFLAGS=-mod=mod GOWORK=off
  go mod init kubepulse.invalid/tools/helm >/dev/null 2>&1
  go get "helm.sh/helm/v3@$HELM_VERSION" >&2
  # Version stamps as Helm's own Makefile sets them: `helm version` tells the
  # truth, and `helm template`/`lint` assume the Kubernetes version of the
  # client-go Helm is built with (1.20 without them: charts that require a
  # newer kubeVersion would not render).
  kv=$(go list -m -f '{{.Version}}' k8s.io/client-go) # v0.37.0 -> Kubernetes 1.37
  kmaj=$(( $(echo "${kv#v}" | cut -d. -f1) + 1 )) kmin=$(echo "$kv" | cut -d. -f2)
  ld="-s -w -X helm.sh/helm/v3/internal/version.version=$HELM_VERSION -X helm.sh/helm/v3/internal/version.gitTreeState=clean"
  for p in helm.sh/helm/v3/pkg/lint/rules helm.sh/helm/v3/pkg/chartutil; do
    ld+=" -X $p.k8sVersionMajor=$kmaj -X $p.k8sVersionMinor=$kmin"
  done
  CGO_ENABLED=0 go build -trimpath -ldflags "$ld" -o "$DIR.tmp/bin/helm" helm.sh/helm/v3/cmd/helm
)
echo "$RECIPE" >"$DIR.tmp/recipe"
rm -rf "$DIR"
mv "$DIR.tmp" "$DIR"
have || { log "ERROR: $BIN does not report $HELM_VERSION"; exit 1; }
log "built helm $HELM_VERSION in $(($(date +%s) - start))s"
echo "$BIN"
