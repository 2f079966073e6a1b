#!/usr/bin/env bash
# Build the Kubernetes test binaries (no Docker, no release downloads: only the Go module proxy).
#
#   scripts/build-k8s.sh            build whatever is missing, then exit; a fast no-op when all are present
#   scripts/build-k8s.sh --print    print the bin directory (after building what is missing)
#   scripts/build-k8s.sh --node     also build kubelet and kube-proxy (a real node, see
#                                   docs/kubernetes-real-node.md); combines with --print
#
# Into ${CUTOVER_CACHE:-$HOME/.cache/cutover}/k8s/v1.36.3/bin/ (outside the repo):
#   kube-apiserver, kube-controller-manager, kube-scheduler,  k8s.io/kubernetes v1.36.3
#   kubectl
#   kubelet, kube-proxy (only with --node)                     k8s.io/kubernetes v1.36.3
#   etcd                                                       go.etcd.io/etcd/server/v3 v3.6.16
#   kwok, kwokctl                                              sigs.k8s.io/kwok v0.8.0
#
# kubectl is needed by kwokctl itself: `kwokctl create cluster` waits for the cluster with
# `kubectl get --raw /version`, and without a kubectl it tries to download one, every 200 ms,
# for two minutes (see docs/kubernetes-test-cluster.md).
#
# k8s.io/kubernetes is not meant to be a dependency: its go.mod requires every staging module
# (k8s.io/api, k8s.io/apiserver, ...) at v0.0.0 and replaces it with ./staging/src/..., a path
# that is not in the published module. So each component is built from a small wrapper module
# (under the cache, never in the repo) that requires it and, for Kubernetes, replaces every
# staging module named in k8s.io/kubernetes's own replace block with its published v0.36.3.
#
# Gentle on a shared 2-core machine: every build runs under `nice -n 19` with `go build -p 1`,
# one binary at a time. GOPATH, GOMODCACHE and GOCACHE live under the cache directory so that a
# CI machine can keep it between runs.
#
# Environment:
#   CUTOVER_CACHE          cache root (default $HOME/.cache/cutover)
#   GO                     the go command (default /usr/local/go/bin/go, else go on PATH)
set -euo pipefail

K8S_VERSION=v1.36.3
STAGING_VERSION=v0.36.3
ETCD_VERSION=v3.6.16
KWOK_VERSION=v0.8.0

CACHE_ROOT="${CUTOVER_CACHE:-$HOME/.cache/cutover}"
K8S_DIR="$CACHE_ROOT/k8s/$K8S_VERSION"
BIN_DIR="$K8S_DIR/bin"
SRC_DIR="$K8S_DIR/src"

log() { printf '[build-k8s] %s\n' "$*"; }
die() {
  printf '[build-k8s] ERROR: %s\n' "$*" >&2
  exit 1
}

PRINT=0
NODE=0
for arg in "$@"; do
  case "$arg" in
    --print) PRINT=1 ;;
    --node) NODE=1 ;;
    *) die "usage: $0 [--print] [--node]" ;;
  esac
done

BINARIES=(kube-apiserver kube-controller-manager kube-scheduler kubectl etcd kwok kwokctl)
# The node binaries get a wrapper module of their own (src/kubernetes-node), so that building
# them never re-resolves the control-plane module the kwok test cluster uses.
NODE_BINARIES=(kubelet kube-proxy)
((NODE)) && BINARIES+=("${NODE_BINARIES[@]}")

missing=()
for b in "${BINARIES[@]}"; do
  [[ -x $BIN_DIR/$b ]] || missing+=("$b")
done
if ((${#missing[@]} == 0)); then
  log "all present in $BIN_DIR"
  ((PRINT)) && printf '%s\n' "$BIN_DIR"
  exit 0
fi
log "missing: ${missing[*]}"

GO="${GO:-}"
if [[ -z $GO ]]; then
  if [[ -x /usr/local/go/bin/go ]]; then GO=/usr/local/go/bin/go; else GO="$(command -v go || true)"; fi
fi
[[ -n $GO && -x $GO ]] || die "no go command found (set GO=...)"

export GOPATH="$CACHE_ROOT/go"
export GOMODCACHE="$GOPATH/pkg/mod"
export GOCACHE="$CACHE_ROOT/go-build"
# The Go this machine has; never let the go command fetch another toolchain behind our back.
export GOTOOLCHAIN=local
export GOFLAGS="-trimpath -modcacherw -buildvcs=false"
# Static binaries, as the Kubernetes release builds kube-apiserver/-controller-manager/-scheduler.
export CGO_ENABLED=0
mkdir -p "$BIN_DIR" "$SRC_DIR" "$GOMODCACHE" "$GOCACHE"

NICE=(nice -n 19)
gor() { "${NICE[@]}" "$GO" "$@"; }

# Write $1 from stdin only when the content changed (keeps the wrapper modules stable, so an
# already-tidied module is not tidied again).
write_if_changed() {
  local dest=$1 tmp
  tmp="$(mktemp)"
  cat >"$tmp"
  if [[ -f $dest ]] && cmp -s "$tmp" "$dest"; then
    rm -f "$tmp"
    return 1
  fi
  mv "$tmp" "$dest"
  return 0
}

# prepare_module DIR: DIR/go.mod.in is the wanted go.mod; tidy once (and again when it changes).
prepare_module() {
  local dir=$1 changed=0
  write_if_changed "$dir/go.mod.in" <"$dir/go.mod.in.new" && changed=1
  rm -f "$dir/go.mod.in.new"
  if ((changed)) || [[ ! -f $dir/go.sum || ! -f $dir/.tidy-ok ]]; then
    rm -f "$dir/.tidy-ok" "$dir/go.sum"
    cp "$dir/go.mod.in" "$dir/go.mod"
    log "resolving modules in $dir (go mod tidy) ..."
    local t0=$SECONDS
    (cd "$dir" && gor mod tidy) || die "go mod tidy failed in $dir"
    touch "$dir/.tidy-ok"
    log "resolved in $((SECONDS - t0)) s"
  fi
}

# build NAME DIR PACKAGE LDFLAGS [TAGS]
build() {
  local name=$1 dir=$2 pkg=$3 ldflags=$4 tags=${5:-}
  if [[ -x $BIN_DIR/$name ]]; then
    log "$name present"
    return
  fi
  log "building $name ($pkg) ..."
  local t0=$SECONDS tmp="$BIN_DIR/.$name.tmp.$$"
  local args=(build -p 1 -o "$tmp" -ldflags "$ldflags")
  [[ -n $tags ]] && args+=(-tags "$tags")
  if ! (cd "$dir" && gor "${args[@]}" "$pkg"); then
    rm -f "$tmp"
    die "building $name failed"
  fi
  mv -f "$tmp" "$BIN_DIR/$name"
  local size
  size="$(du -h "$BIN_DIR/$name" | cut -f1)"
  log "built $name in $((SECONDS - t0)) s ($size)"
}

need() {
  local b
  for b in "$@"; do
    [[ -x $BIN_DIR/$b ]] || return 0
  done
  return 1
}

T_ALL=$SECONDS

# --- kwok, kwokctl ----------------------------------------------------------------------------
if need kwok kwokctl; then
  d="$SRC_DIR/kwok"
  mkdir -p "$d"
  cat >"$d/go.mod.in.new" <<EOF
module cutover.local/k8s-test-binaries/kwok

go 1.26.0

require sigs.k8s.io/kwok $KWOK_VERSION

tool (
	sigs.k8s.io/kwok/cmd/kwok
	sigs.k8s.io/kwok/cmd/kwokctl
)
EOF
  prepare_module "$d"
  # KubeVersion is only kwokctl's default --kube-version; the binaries' own --version wins.
  kwok_ldflags="-s -w -X sigs.k8s.io/kwok/pkg/consts.Version=${KWOK_VERSION#v} -X sigs.k8s.io/kwok/pkg/consts.KubeVersion=${K8S_VERSION#v}"
  build kwok "$d" sigs.k8s.io/kwok/cmd/kwok "$kwok_ldflags"
  build kwokctl "$d" sigs.k8s.io/kwok/cmd/kwokctl "$kwok_ldflags"
fi

# --- etcd -------------------------------------------------------------------------------------
if need etcd; then
  d="$SRC_DIR/etcd"
  mkdir -p "$d"
  # go.etcd.io/etcd/server/v3's own go.mod replaces api/client/pkg with ../ paths; as a
  # dependency those replaces are ignored and the published modules of the same release are used.
  cat >"$d/go.mod.in.new" <<EOF
module cutover.local/k8s-test-binaries/etcd

go 1.26.0

require (
	go.etcd.io/etcd/server/v3 $ETCD_VERSION
	go.etcd.io/etcd/api/v3 $ETCD_VERSION
	go.etcd.io/etcd/client/pkg/v3 $ETCD_VERSION
	go.etcd.io/etcd/client/v3 $ETCD_VERSION
	go.etcd.io/etcd/pkg/v3 $ETCD_VERSION
)

tool go.etcd.io/etcd/server/v3
EOF
  prepare_module "$d"
  build etcd "$d" go.etcd.io/etcd/server/v3 "-s -w"
fi

# --- Kubernetes -------------------------------------------------------------------------------
# k8s_module DIR BINARY...: the wrapper module in DIR requiring k8s.io/kubernetes with the
# commands BINARY... as its tools, then build each missing one.
k8s_module() {
  local d=$1
  shift
  mkdir -p "$d"
  # The staging modules: exactly those k8s.io/kubernetes itself replaces with ./staging/... paths.
  log "reading k8s.io/kubernetes@$K8S_VERSION go.mod ..."
  local kmod_json kmod_gomod godebug m b
  kmod_json="$(cd "$d" && gor mod download -json "k8s.io/kubernetes@$K8S_VERSION")" ||
    die "the module proxy did not serve k8s.io/kubernetes@$K8S_VERSION"
  kmod_gomod="$(printf '%s\n' "$kmod_json" | sed -n 's/^[[:space:]]*"GoMod": "\(.*\)",$/\1/p')"
  [[ -f $kmod_gomod ]] || die "no go.mod for k8s.io/kubernetes@$K8S_VERSION in the module cache"
  local staging
  mapfile -t staging < <(awk '
    /^replace[[:space:]]*\(/ { inblock = 1; next }
    inblock && /^\)/ { inblock = 0; next }
    inblock && $2 == "=>" && $3 ~ /^\.\/staging\// { print $1 }
    /^replace[[:space:]]+[^(]/ && $3 == "=>" && $4 ~ /^\.\/staging\// { print $2 }
  ' "$kmod_gomod")
  ((${#staging[@]} > 0)) || die "found no staging replace lines in $kmod_gomod"
  godebug="$(grep -E '^godebug ' "$kmod_gomod" || true)"
  {
    printf 'module cutover.local/k8s-test-binaries/%s\n\ngo 1.26.0\n\n' "$(basename "$d")"
    [[ -n $godebug ]] && printf '%s\n\n' "$godebug"
    printf 'require k8s.io/kubernetes %s\n\n' "$K8S_VERSION"
    printf 'replace (\n'
    for m in "${staging[@]}"; do printf '\t%s => %s %s\n' "$m" "$m" "$STAGING_VERSION"; done
    printf ')\n\ntool (\n'
    for b in "$@"; do printf '\tk8s.io/kubernetes/cmd/%s\n' "$b"; done
    printf ')\n'
  } >"$d/go.mod.in.new"
  log "${#staging[@]} staging modules replaced with $STAGING_VERSION"
  prepare_module "$d"

  # As hack/lib/version.sh does (gitCommit/gitTreeState are left out: there is no git tree),
  # so `--version` prints v1.36.3 and kwokctl picks the right flags.
  local minor major build_date k8s_ldflags p
  minor="${K8S_VERSION#v*.}"
  minor="${minor%%.*}"
  major="${K8S_VERSION#v}"
  major="${major%%.*}"
  build_date="2026-01-01T00:00:00Z"
  k8s_ldflags="-s -w"
  for p in k8s.io/component-base/version k8s.io/client-go/pkg/version; do
    k8s_ldflags+=" -X $p.gitVersion=$K8S_VERSION -X $p.gitMajor=$major -X $p.gitMinor=$minor"
    k8s_ldflags+=" -X $p.buildDate=$build_date"
  done
  # The tags the Kubernetes release build uses for non-debug binaries.
  local k8s_tags="selinux,notest,grpcnotrace"
  for b in "$@"; do
    build "$b" "$d" "k8s.io/kubernetes/cmd/$b" "$k8s_ldflags" "$k8s_tags"
  done
}

k8s_bins=(kube-apiserver kube-controller-manager kube-scheduler kubectl)
if need "${k8s_bins[@]}"; then
  k8s_module "$SRC_DIR/kubernetes" "${k8s_bins[@]}"
fi
if ((NODE)) && need "${NODE_BINARIES[@]}"; then
  k8s_module "$SRC_DIR/kubernetes-node" "${NODE_BINARIES[@]}"
fi

log "done in $((SECONDS - T_ALL)) s; binaries in $BIN_DIR"
((PRINT)) && printf '%s\n' "$BIN_DIR"
exit 0
