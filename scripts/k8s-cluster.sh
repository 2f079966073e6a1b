#!/usr/bin/env bash
# A local Kubernetes test cluster: real kube-apiserver, etcd, kube-controller-manager and
# kube-scheduler run as plain processes by kwokctl (runtime "binary"); kwok plays the kubelets,
# so pods on its fake nodes become Running/Ready without any container being started.
#
#   scripts/k8s-cluster.sh start    create the cluster (or reuse one already answering), wait for /readyz
#   scripts/k8s-cluster.sh stop     delete the cluster (its processes and its data)
#   scripts/k8s-cluster.sh status   exit 0 if the API server answers /readyz, 3 if not
#   scripts/k8s-cluster.sh env      print KUBECONFIG=... and the API server URL
#   scripts/k8s-cluster.sh smoke    on a started cluster: a Deployment of 2 replicas must become
#                                   Running/Ready on the fake node(s); then it is deleted
#
# The binaries come from scripts/build-k8s.sh (run by `start` when one is missing: the first
# build takes a long time, see docs/kubernetes-test-cluster.md).
#
# Environment:
#   CUTOVER_DATA_DIR          where kubeconfig and the kwok work dir live (default .cutover in the repo)
#   CUTOVER_CACHE             binary cache root (default $HOME/.cache/cutover), as in build-k8s.sh
#   CUTOVER_K8S_CLUSTER       cluster name (default cutover)
#   CUTOVER_K8S_PORT          kube-apiserver port (default: kwokctl picks a free one)
#   CUTOVER_K8S_START_TIMEOUT seconds to wait for /readyz (default 180)
#   CUTOVER_K8S_NODES         fake nodes to create on start, kwok-node-0.. (default 1; 0 for none)
#   CUTOVER_K8S_NODE_TAINT=1  give them kwok's documented taint kwok.x-k8s.io/node=fake:NoSchedule
#                             (then pods need a toleration; default: no taint, so plain
#                             Deployments schedule onto them as they would on real nodes)
#   CUTOVER_K8S_EXTRA_CONFIG  a YAML file whose documents are appended to the kwokctl configuration,
#                             e.g. kwok Stage objects (pods Ready after a delay: bench/kubernetes-rolling.ts);
#                             giving any Stage replaces all of kwok's default stages, nodes' included
#   CUTOVER_K8S_DISABLE_QPS_LIMITS=1  kwokctl --disable-qps-limits (controller manager, scheduler and
#                             kwok without client-side rate limits)
#
# Written on start: $CUTOVER_DATA_DIR/kubeconfig (client certificate, server https://127.0.0.1:PORT).
# It never touches ~/.kube/config.
set -euo pipefail

REPO_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
K8S_VERSION=v1.36.3
DATA_DIR="${CUTOVER_DATA_DIR:-$REPO_ROOT/.cutover}"
CACHE_ROOT="${CUTOVER_CACHE:-$HOME/.cache/cutover}"
BIN_DIR="$CACHE_ROOT/k8s/$K8S_VERSION/bin"
NAME="${CUTOVER_K8S_CLUSTER:-cutover}"
START_TIMEOUT="${CUTOVER_K8S_START_TIMEOUT:-180}"
KUBECONFIG_OUT="$DATA_DIR/kubeconfig"
# kwokctl keeps each cluster (config, pki, etcd data, logs, pids) under $KWOK_WORKDIR/clusters/NAME.
export KWOK_WORKDIR="$DATA_DIR/kwok"
CLUSTER_DIR="$KWOK_WORKDIR/clusters/$NAME"

log() { printf '[k8s-cluster] %s\n' "$*"; }
die() {
  printf '[k8s-cluster] ERROR: %s\n' "$*" >&2
  exit 1
}

KWOKCTL="$BIN_DIR/kwokctl"

# The API server URL and the client certificate, read from the cluster's own kubeconfig.
server_url() {
  [[ -f $CLUSTER_DIR/kubeconfig.yaml ]] || return 1
  sed -n 's/^[[:space:]]*server:[[:space:]]*//p' "$CLUSTER_DIR/kubeconfig.yaml" | head -n1
}

# curl against the API server with the admin certificate kwokctl generated.
api() {
  local url
  url="$(server_url)" || return 1
  curl -sS --max-time 5 \
    --cacert "$CLUSTER_DIR/pki/ca.crt" \
    --cert "$CLUSTER_DIR/pki/admin.crt" --key "$CLUSTER_DIR/pki/admin.key" \
    "$@" "$url${API_PATH:-/readyz}"
}

ready() {
  local out
  out="$(API_PATH=/readyz api 2>/dev/null)" || return 1
  [[ $out == ok ]]
}

wait_ready() {
  local deadline=$((SECONDS + START_TIMEOUT))
  until ready; do
    ((SECONDS < deadline)) || return 1
    sleep 1
  done
}

write_kubeconfig() {
  mkdir -p "$DATA_DIR"
  # kwokctl's kubeconfig names the certificates by absolute path, so a copy works from anywhere.
  cp "$CLUSTER_DIR/kubeconfig.yaml" "$KUBECONFIG_OUT.tmp"
  mv -f "$KUBECONFIG_OUT.tmp" "$KUBECONFIG_OUT"
}

# A fake node, from kwok's documented manifest ("Manage single node"). kwokctl runs its kwok
# controller with --manage-all-nodes=true, so it takes over every node; the annotation
# kwok.x-k8s.io/node=fake is what a kwok installed in a real cluster would select on.
node_json() {
  local name=$1 taints='[]'
  [[ ${CUTOVER_K8S_NODE_TAINT:-0} == 1 ]] && taints='[{"key":"kwok.x-k8s.io/node","value":"fake","effect":"NoSchedule"}]'
  cat <<EOF
{"apiVersion":"v1","kind":"Node",
 "metadata":{"name":"$name",
  "annotations":{"node.alpha.kubernetes.io/ttl":"0","kwok.x-k8s.io/node":"fake"},
  "labels":{"beta.kubernetes.io/arch":"amd64","beta.kubernetes.io/os":"linux","kubernetes.io/arch":"amd64",
   "kubernetes.io/hostname":"$name","kubernetes.io/os":"linux","kubernetes.io/role":"agent",
   "node-role.kubernetes.io/agent":"","type":"kwok"}},
 "spec":{"taints":$taints},
 "status":{"allocatable":{"cpu":"32","memory":"256Gi","pods":"110"},
  "capacity":{"cpu":"32","memory":"256Gi","pods":"110"},
  "nodeInfo":{"architecture":"amd64","bootID":"","containerRuntimeVersion":"","kernelVersion":"",
   "kubeProxyVersion":"fake","kubeletVersion":"fake","machineID":"","operatingSystem":"linux",
   "osImage":"","systemUUID":""},
  "phase":"Running"}}
EOF
}

ensure_nodes() {
  local n="${CUTOVER_K8S_NODES:-1}" i name code
  for ((i = 0; i < n; i++)); do
    name="kwok-node-$i"
    code="$(node_json "$name" | API_PATH=/api/v1/nodes api -o /dev/null -w '%{http_code}' \
      -X POST -H 'Content-Type: application/json' --data-binary @-)" || die "creating node $name failed"
    case "$code" in
      201) log "created fake node $name" ;;
      409) ;; # already there
      *) die "creating node $name: HTTP $code" ;;
    esac
  done
}

# Pid of one component of this cluster if it is still alive. A pid file is trusted only while
# its process is a live (not zombie) one started from this cluster's bin directory, so a pid
# reused by another program after a reboot is never signalled.
live_pid() {
  local f="$CLUSTER_DIR/pids/$1.pid" pid state cmd
  [[ -f $f ]] || return 0
  pid="$(tr -dc '0-9' <"$f")"
  [[ -n $pid && -r /proc/$pid/stat ]] || return 0
  state="$(awk '{print $3}' "/proc/$pid/stat" 2>/dev/null || true)"
  [[ -n $state && $state != Z ]] || return 0
  cmd="$(tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null || true)"
  [[ $cmd == "$CLUSTER_DIR/bin/"* ]] && printf '%s\n' "$pid"
  return 0
}

# Stop components with SIGTERM, SIGKILL after $1 seconds; return when they are gone.
stop_group() {
  local grace=$1 c p pids=()
  shift
  for c in "$@"; do
    p="$(live_pid "$c")"
    [[ -n $p ]] && pids+=("$p")
  done
  ((${#pids[@]} > 0)) || return 0
  kill -TERM "${pids[@]}" 2>/dev/null || true
  local deadline=$((SECONDS + grace)) alive
  while :; do
    alive=()
    for c in "$@"; do
      p="$(live_pid "$c")"
      [[ -n $p ]] && alive+=("$p")
    done
    ((${#alive[@]} > 0)) || return 0
    if ((SECONDS >= deadline)); then
      log "SIGKILL to ${alive[*]} (did not exit within ${grace}s of SIGTERM)"
      kill -KILL "${alive[@]}" 2>/dev/null || true
      grace=$((grace + 5))
      deadline=$((SECONDS + 5))
      ((grace < 60)) || die "components of cluster $NAME still running: ${alive[*]}"
    fi
    sleep 0.2
  done
}

# Stop this cluster's components in reverse dependency order: the clients of the API server,
# then the API server (its graceful shutdown hangs while etcd is gone), then etcd.
stop_components() {
  stop_group 10 kwok-controller kube-scheduler kube-controller-manager metrics-server
  stop_group 20 kube-apiserver
  stop_group 10 etcd
}

# Remove the cluster: our own stop first (kwokctl would SIGKILL whatever pids its files name),
# then kwokctl delete for the rest of its bookkeeping, then the directory.
remove_cluster() {
  stop_components
  rm -f "$CLUSTER_DIR"/pids/*.pid
  # --kubeconfig: else kwokctl edits ~/.kube/config ("" is refused by delete).
  PATH="$BIN_DIR:$PATH" "$KWOKCTL" delete cluster --name "$NAME" \
    --kubeconfig "$KWOK_WORKDIR/unused-kubeconfig.yaml" >/dev/null 2>&1 || true
  rm -rf "$CLUSTER_DIR"
}

start() {
  if ready; then
    ensure_nodes
    write_kubeconfig
    log "cluster $NAME already answering at $(server_url); kubeconfig: $KUBECONFIG_OUT"
    return 0
  fi
  "$REPO_ROOT/scripts/build-k8s.sh"
  [[ -x $KWOKCTL ]] || die "no kwokctl in $BIN_DIR"
  command -v curl >/dev/null || die "curl is needed"
  mkdir -p "$KWOK_WORKDIR"
  local t0=$SECONDS
  if [[ -d $CLUSTER_DIR ]]; then
    # Left over from a session that ended without `stop` (its processes are gone or wedged):
    # a test cluster holds nothing worth keeping, so it is replaced by a new, empty one.
    log "removing stale cluster $NAME"
    remove_cluster
  fi
  log "creating cluster $NAME (kwokctl, runtime binary, Kubernetes $K8S_VERSION) ..."
  # Every component listens on loopback only (kwokctl's default is 0.0.0.0, settable only in a
  # config file); naming our own file also keeps a user's ~/.kwok/kwok.yaml out of it.
  # kubectlBinary: kwokctl runs kubectl to wait for the cluster; with none it would try to
  # download one. PATH puts ours first, so kwokctl never picks an older kubectl found on PATH.
  cat >"$KWOK_WORKDIR/kwokctl.yaml" <<EOF
apiVersion: config.kwok.x-k8s.io/v1alpha1
kind: KwokctlConfiguration
options:
  bindAddress: 127.0.0.1
  kubectlBinary: $BIN_DIR/kubectl
EOF
  if [[ -n ${CUTOVER_K8S_EXTRA_CONFIG:-} ]]; then
    printf -- '---\n' >>"$KWOK_WORKDIR/kwokctl.yaml"
    cat "$CUTOVER_K8S_EXTRA_CONFIG" >>"$KWOK_WORKDIR/kwokctl.yaml"
  fi
  local args=(
    create cluster
    --config "$KWOK_WORKDIR/kwokctl.yaml"
    --name "$NAME"
    --runtime binary
    --kubeconfig ""
    --kube-apiserver-binary "$BIN_DIR/kube-apiserver"
    --kube-controller-manager-binary "$BIN_DIR/kube-controller-manager"
    --kube-scheduler-binary "$BIN_DIR/kube-scheduler"
    --etcd-binary "$BIN_DIR/etcd"
    --kwok-controller-binary "$BIN_DIR/kwok"
    --timeout "${START_TIMEOUT}s"
  )
  [[ -n ${CUTOVER_K8S_PORT:-} ]] && args+=(--kube-apiserver-port "$CUTOVER_K8S_PORT")
  [[ ${CUTOVER_K8S_DISABLE_QPS_LIMITS:-0} == 1 ]] && args+=(--disable-qps-limits)
  PATH="$BIN_DIR:$PATH" "$KWOKCTL" "${args[@]}" >"$KWOK_WORKDIR/kwokctl-create.log" 2>&1 || {
    cat "$KWOK_WORKDIR/kwokctl-create.log" >&2
    die "kwokctl create cluster failed (logs: $CLUSTER_DIR/logs)"
  }
  wait_ready || die "the API server did not answer /readyz within ${START_TIMEOUT}s (logs: $CLUSTER_DIR/logs)"
  ensure_nodes
  write_kubeconfig
  log "cluster $NAME ready at $(server_url) in $((SECONDS - t0)) s; kubeconfig: $KUBECONFIG_OUT"
}

stop() {
  if [[ ! -d $CLUSTER_DIR ]]; then
    log "no cluster $NAME"
    rm -f "$KUBECONFIG_OUT"
    return 0
  fi
  [[ -x $KWOKCTL ]] || die "no kwokctl in $BIN_DIR to delete $CLUSTER_DIR with"
  local t0=$SECONDS
  remove_cluster
  rm -f "$KUBECONFIG_OUT"
  log "cluster $NAME stopped and deleted in $((SECONDS - t0)) s"
}

smoke() {
  ready || die "cluster $NAME is not answering; run: $0 start"
  local kubectl=("$BIN_DIR/kubectl" --kubeconfig "$CLUSTER_DIR/kubeconfig.yaml" -n default)
  local t0=$SECONDS
  "${kubectl[@]}" apply -f - <<'EOF' >/dev/null
apiVersion: apps/v1
kind: Deployment
metadata:
  name: cutover-smoke
spec:
  replicas: 2
  selector:
    matchLabels: {app: cutover-smoke}
  template:
    metadata:
      labels: {app: cutover-smoke}
    spec:
      # A kwok node with the documented taint needs this; harmless on an untainted one.
      tolerations: [{key: kwok.x-k8s.io/node, operator: Exists, effect: NoSchedule}]
      containers:
        - name: web
          image: example.invalid/never-pulled:1   # kwok starts no container
          ports: [{containerPort: 8080}]
EOF
  "${kubectl[@]}" rollout status deployment/cutover-smoke --timeout=60s ||
    die "the smoke Deployment did not become available"
  "${kubectl[@]}" get pods -l app=cutover-smoke -o wide
  local ready
  ready="$("${kubectl[@]}" get pods -l app=cutover-smoke \
    -o jsonpath='{range .items[*]}{.status.phase}/{.status.conditions[?(@.type=="Ready")].status}{"\n"}{end}' |
    grep -c '^Running/True$' || true)"
  "${kubectl[@]}" delete deployment cutover-smoke --wait=false >/dev/null
  [[ $ready == 2 ]] || die "expected 2 pods Running/Ready, saw $ready"
  log "smoke: 2 pods Running/Ready in $((SECONDS - t0)) s (fake pod IPs: never send traffic to them)"
}

case "${1:-}" in
  start) start ;;
  stop) stop ;;
  status)
    if ready; then
      log "cluster $NAME ready at $(server_url)"
    else
      log "cluster $NAME not answering"
      exit 3
    fi
    ;;
  env)
    url="$(server_url)" || die "no cluster $NAME"
    printf 'KUBECONFIG=%s\nKUBE_API_SERVER=%s\n' "$KUBECONFIG_OUT" "$url"
    ;;
  smoke) smoke ;;
  *) die "usage: $0 start|stop|status|env|smoke" ;;
esac
