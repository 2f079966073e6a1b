#!/usr/bin/env bash
# A real single-node Kubernetes cluster on this machine (a feasibility spike, issue 14): etcd,
# kube-apiserver, kube-controller-manager, kube-scheduler, containerd (Debian's 1.6, cgroupfs),
# a kubelet on cgroup v1, a CNI bridge with host-local IPAM and kube-proxy (iptables). Pods are
# real runc containers in their own network namespaces; their IPs (10.244.0.0/24 on the bridge
# cutover0) are reachable from the host, and nowhere else. See docs/kubernetes-real-node.md.
#
#   scripts/k8s-node.sh start     build what is missing, start everything, wait for the node Ready
#   scripts/k8s-node.sh stop      stop every daemon started here, remove pods' containers, mounts,
#                                 network namespaces, the bridge and the iptables rules of kube-proxy
#   scripts/k8s-node.sh status    exit 0 if the node is Ready, 3 if not
#   scripts/k8s-node.sh env       print KUBECONFIG=...
#   scripts/k8s-node.sh smoke     on a started node: a Deployment of the sample app with a readiness
#                                 probe; curl its pod IP and its Service's ClusterIP from the host;
#                                 delete a pod and time its graceful termination (preStop + SIGTERM)
#
# Needs root (it mounts, makes network namespaces and cgroups), Debian's containerd, runc and
# containernetworking-plugins (`apt-get install containerd runc containernetworking-plugins`),
# the binaries of `scripts/build-k8s.sh --node` and the images of scripts/build-k8s-node-images.sh.
#
# Environment:
#   CUTOVER_NODE_STATE   state directory (default /var/lib/cutover-node): etcd data, certificates,
#                        containerd's root, the kubelet's root, logs (logs/*.log)
#   CUTOVER_NODE_RUN     runtime directory (default /run/cutover-node): sockets, containerd state
#   CUTOVER_CACHE        binary/image cache root (default $HOME/.cache/cutover)
#   CUTOVER_NODE_RUNC    the runc binary containerd runs (default runc on containerd's PATH)
set -euo pipefail

REPO_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
K8S_VERSION=v1.36.3
STATE="${CUTOVER_NODE_STATE:-/var/lib/cutover-node}"
RUN="${CUTOVER_NODE_RUN:-/run/cutover-node}"
CACHE_ROOT="${CUTOVER_CACHE:-$HOME/.cache/cutover}"
BIN_DIR="$CACHE_ROOT/k8s/$K8S_VERSION/bin"
NODE_NAME=cutover-node
BRIDGE=cutover0
POD_CIDR=10.244.0.0/24
SERVICE_CIDR=10.96.0.0/16
ETCD_PORT=23790
ETCD_PEER_PORT=23800
API_PORT=16443
CM_PORT=10357
SCHED_PORT=10359
CTR_SOCK="$RUN/containerd.sock"
KUBECONFIG_ADMIN="$STATE/admin.kubeconfig"
LOGS="$STATE/logs"
PIDS="$RUN/pids"
# The node's InternalIP (the kubelet refuses a loopback --node-ip): the default route's source.
NODE_IP="$(ip -4 route get 1.1.1.1 2>/dev/null | awk '{ for (i = 1; i < NF; i++) if ($i == "src") print $(i + 1) }')"

log() { printf '[k8s-node] %s\n' "$*"; }
die() {
  printf '[k8s-node] ERROR: %s\n' "$*" >&2
  exit 1
}

kubectl() { "$BIN_DIR/kubectl" --kubeconfig "$KUBECONFIG_ADMIN" "$@"; }
ctr() { command ctr --address "$CTR_SOCK" -n k8s.io "$@"; }

# daemon NAME CMD...: start CMD in its own session, stdout/stderr to logs/NAME.log.
daemon() {
  local name=$1
  shift
  if [[ -f $PIDS/$name ]] && kill -0 "$(cat "$PIDS/$name")" 2>/dev/null; then
    log "$name already running (pid $(cat "$PIDS/$name"))"
    return
  fi
  setsid "$@" >>"$LOGS/$name.log" 2>&1 </dev/null &
  echo $! >"$PIDS/$name"
  log "$name started (pid $!)"
}

# wait_for DESCRIPTION SECONDS CMD...: poll CMD every 0.2 s.
wait_for() {
  local what=$1 limit=$2 t0=$SECONDS
  shift 2
  until "$@" >/dev/null 2>&1; do
    ((SECONDS - t0 < limit)) || die "$what: not after ${limit} s (see $LOGS/)"
    sleep 0.2
  done
  log "$what after $((SECONDS - t0)) s"
}

kubeconfig() { # USER TOKEN
  cat <<EOF
apiVersion: v1
kind: Config
clusters:
- name: cutover-node
  cluster:
    server: https://127.0.0.1:$API_PORT
    certificate-authority: $STATE/pki/ca.crt
users:
- name: $1
  user:
    token: $2
contexts:
- name: default
  context: {cluster: cutover-node, user: $1}
current-context: default
EOF
}

pki() {
  local d="$STATE/pki"
  [[ -f $d/apiserver.crt ]] && return
  mkdir -p "$d"
  (
    cd "$d"
    openssl req -x509 -newkey rsa:2048 -nodes -keyout ca.key -out ca.crt -days 3650 \
      -subj /CN=cutover-node-ca 2>/dev/null
    openssl req -newkey rsa:2048 -nodes -keyout apiserver.key -out apiserver.csr \
      -subj /CN=kube-apiserver 2>/dev/null
    printf 'subjectAltName=IP:127.0.0.1,IP:10.96.0.1,DNS:localhost,DNS:kubernetes,DNS:kubernetes.default,DNS:kubernetes.default.svc\n' >san.ext
    openssl x509 -req -in apiserver.csr -CA ca.crt -CAkey ca.key -CAcreateserial -days 3650 \
      -extfile san.ext -out apiserver.crt 2>/dev/null
    openssl genrsa -out sa.key 2048 2>/dev/null
    openssl rsa -in sa.key -pubout -out sa.pub 2>/dev/null
    # Static tokens (the spike's whole authentication): token,user,uid,"groups".
    {
      printf '%s,cutover-admin,1,"system:masters"\n' "$(openssl rand -hex 16)"
      printf '%s,system:node:%s,2,"system:nodes"\n' "$(openssl rand -hex 16)" "$NODE_NAME"
      printf '%s,system:kube-controller-manager,3\n' "$(openssl rand -hex 16)"
      printf '%s,system:kube-scheduler,4\n' "$(openssl rand -hex 16)"
      printf '%s,system:kube-proxy,5\n' "$(openssl rand -hex 16)"
    } >tokens.csv
    chmod 600 ./*.key tokens.csv
  )
  local user token
  while IFS=, read -r token user _; do
    case "$user" in
      cutover-admin) kubeconfig "$user" "$token" >"$KUBECONFIG_ADMIN" ;;
      system:node:*) kubeconfig "$user" "$token" >"$STATE/kubelet.kubeconfig" ;;
      system:kube-controller-manager) kubeconfig "$user" "$token" >"$STATE/controller-manager.kubeconfig" ;;
      system:kube-scheduler) kubeconfig "$user" "$token" >"$STATE/scheduler.kubeconfig" ;;
      system:kube-proxy) kubeconfig "$user" "$token" >"$STATE/kube-proxy.kubeconfig" ;;
    esac
  done <"$d/tokens.csv"
}

write_configs() {
  mkdir -p "$STATE/cni/net.d" "$STATE/kubelet"
  cat >"$STATE/containerd.toml" <<EOF
version = 2
root = "$STATE/containerd"
state = "$RUN/containerd"
[grpc]
  address = "$CTR_SOCK"
[ttrpc]
  address = "$RUN/containerd.sock.ttrpc"
[debug]
  address = ""
[metrics]
  address = ""
[plugins."io.containerd.grpc.v1.cri"]
  sandbox_image = "cutover.local/pause:3.10.2"
  # This machine withholds CAP_SYS_RESOURCE even from root (CapEff 000001fffeffffff: bit 24 is
  # clear), so no process may lower its oom_score_adj. The CRI plugin gives every sandbox -998 and
  # runc then fails with "can't get final child's PID from pipe: EOF" (its nsexec log:
  # "failed to update /proc/self/oom_score_adj: Permission denied"). Clamp to containerd's own.
  restrict_oom_score_adj = true
  [plugins."io.containerd.grpc.v1.cri".containerd]
    snapshotter = "overlayfs"
    default_runtime_name = "runc"
    [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc]
      runtime_type = "io.containerd.runc.v2"
      [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc.options]
        SystemdCgroup = false
        BinaryName = "${CUTOVER_NODE_RUNC:-runc}"
        Root = "$RUN/runc"
  [plugins."io.containerd.grpc.v1.cri".cni]
    bin_dir = "/usr/lib/cni"
    conf_dir = "$STATE/cni/net.d"
EOF
  # No ipMasq/portmap: pod traffic stays on this machine (host <-> bridge <-> pods).
  cat >"$STATE/cni/net.d/10-cutover.conflist" <<EOF
{
  "cniVersion": "1.0.0",
  "name": "cutover",
  "plugins": [
    {
      "type": "bridge",
      "bridge": "$BRIDGE",
      "isGateway": true,
      "ipMasq": false,
      "hairpinMode": true,
      "ipam": {
        "type": "host-local",
        "ranges": [[{ "subnet": "$POD_CIDR" }]],
        "dataDir": "$STATE/cni/ipam"
      }
    }
  ]
}
EOF
  cat >"$STATE/kubelet-config.yaml" <<EOF
apiVersion: kubelet.config.k8s.io/v1beta1
kind: KubeletConfiguration
# cgroup v1: Kubernetes 1.35+ refuses it unless told otherwise.
failCgroupV1: false
cgroupDriver: cgroupfs
failSwapOn: false
containerRuntimeEndpoint: unix://$CTR_SOCK
address: $NODE_IP
port: 10250
healthzBindAddress: 127.0.0.1
healthzPort: 10248
readOnlyPort: 0
authentication:
  anonymous: {enabled: true}
  webhook: {enabled: false}
authorization:
  mode: AlwaysAllow
podCIDR: $POD_CIDR
registerNode: true
# This machine's disk is shared and mostly full of other work: never evict or GC on disk.
evictionHard: {memory.available: "100Mi"}
imageGCHighThresholdPercent: 100
serializeImagePulls: false
EOF
  cat >"$STATE/kube-proxy-config.yaml" <<EOF
apiVersion: kubeproxy.config.k8s.io/v1alpha1
kind: KubeProxyConfiguration
mode: iptables
clientConnection:
  kubeconfig: $STATE/kube-proxy.kubeconfig
clusterCIDR: 10.244.0.0/16
hostnameOverride: $NODE_NAME
bindAddress: 127.0.0.1
healthzBindAddress: 127.0.0.1:10256
metricsBindAddress: 127.0.0.1:10249
conntrack:
  maxPerCore: 0
EOF
}

api_ready() { curl -sf --cacert "$STATE/pki/ca.crt" "https://127.0.0.1:$API_PORT/readyz" -H "Authorization: Bearer $(awk -F, '$2=="cutover-admin"{print $1}' "$STATE/pki/tokens.csv")"; }
node_ready() {
  [[ "$(kubectl get node "$NODE_NAME" -o jsonpath='{.status.conditions[?(@.type=="Ready")].status}' 2>/dev/null)" == True ]]
}

start() {
  [[ $(id -u) == 0 ]] || die "needs root"
  local t_all=$SECONDS
  "$REPO_ROOT/scripts/build-k8s.sh" --node
  local images
  mapfile -t images < <("$REPO_ROOT/scripts/build-k8s-node-images.sh" --print | grep '^/')
  command -v containerd >/dev/null || die "no containerd: apt-get install -y containerd runc containernetworking-plugins"
  mkdir -p "$STATE" "$RUN" "$LOGS" "$PIDS"
  pki
  write_configs
  modprobe br_netfilter 2>/dev/null || true

  daemon containerd containerd --config "$STATE/containerd.toml"
  daemon etcd "$BIN_DIR/etcd" --name cutover-node --data-dir "$STATE/etcd" \
    --listen-client-urls "http://127.0.0.1:$ETCD_PORT" --advertise-client-urls "http://127.0.0.1:$ETCD_PORT" \
    --listen-peer-urls "http://127.0.0.1:$ETCD_PEER_PORT" --initial-advertise-peer-urls "http://127.0.0.1:$ETCD_PEER_PORT" \
    --initial-cluster "cutover-node=http://127.0.0.1:$ETCD_PEER_PORT" --quota-backend-bytes 1073741824
  daemon kube-apiserver "$BIN_DIR/kube-apiserver" --etcd-servers "http://127.0.0.1:$ETCD_PORT" \
    --bind-address 127.0.0.1 --advertise-address "$NODE_IP" --secure-port "$API_PORT" \
    --tls-cert-file "$STATE/pki/apiserver.crt" --tls-private-key-file "$STATE/pki/apiserver.key" \
    --token-auth-file "$STATE/pki/tokens.csv" --authorization-mode Node,RBAC \
    --kubelet-preferred-address-types InternalIP \
    --service-cluster-ip-range "$SERVICE_CIDR" \
    --service-account-issuer https://kubernetes.default.svc --service-account-key-file "$STATE/pki/sa.pub" \
    --service-account-signing-key-file "$STATE/pki/sa.key"
  wait_for "kube-apiserver /readyz" 120 api_ready
  daemon kube-controller-manager "$BIN_DIR/kube-controller-manager" \
    --kubeconfig "$STATE/controller-manager.kubeconfig" --authentication-kubeconfig "$STATE/controller-manager.kubeconfig" \
    --authorization-kubeconfig "$STATE/controller-manager.kubeconfig" \
    --bind-address 127.0.0.1 --secure-port "$CM_PORT" --leader-elect=false \
    --service-account-private-key-file "$STATE/pki/sa.key" --root-ca-file "$STATE/pki/ca.crt" \
    --use-service-account-credentials --service-cluster-ip-range "$SERVICE_CIDR"
  daemon kube-scheduler "$BIN_DIR/kube-scheduler" --kubeconfig "$STATE/scheduler.kubeconfig" \
    --authentication-kubeconfig "$STATE/scheduler.kubeconfig" --authorization-kubeconfig "$STATE/scheduler.kubeconfig" \
    --bind-address 127.0.0.1 --secure-port "$SCHED_PORT" --leader-elect=false

  wait_for "containerd CRI" 60 command ctr --address "$CTR_SOCK" version
  local img t0=$SECONDS
  for img in "${images[@]}"; do ctr images import --no-unpack "$img" >/dev/null; done
  log "images imported in $((SECONDS - t0)) s"

  local t_node=$SECONDS
  daemon kubelet "$BIN_DIR/kubelet" --config "$STATE/kubelet-config.yaml" \
    --kubeconfig "$STATE/kubelet.kubeconfig" --root-dir "$STATE/kubelet" \
    --hostname-override "$NODE_NAME" --node-ip "$NODE_IP" --v 2
  daemon kube-proxy "$BIN_DIR/kube-proxy" --config "$STATE/kube-proxy-config.yaml"
  wait_for "node $NODE_NAME Ready" 180 node_ready
  # Pods are refused until the controller manager has made the namespace's service account.
  wait_for "serviceaccount default/default" 60 kubectl get serviceaccount default
  log "node Ready $((SECONDS - t_node)) s after the kubelet started; start took $((SECONDS - t_all)) s in all"
}

# alive PID: running (a zombie waiting for this machine's init to reap it counts as gone).
alive() { [[ -r /proc/$1/stat ]] && [[ "$(awk '{ print $3 }' "/proc/$1/stat" 2>/dev/null)" != Z ]]; }

# Stop one daemon (SIGTERM, then SIGKILL after 15 s).
stop_daemon() {
  local name=$1 pid i
  [[ -f $PIDS/$name ]] || return 0
  pid="$(cat "$PIDS/$name")"
  if kill -0 "$pid" 2>/dev/null; then
    local ms0=$(($(date +%s%N) / 1000000))
    kill "$pid"
    for ((i = 0; i < 150; i++)); do
      alive "$pid" || break
      sleep 0.1
    done
    alive "$pid" && kill -9 "$pid"
    log "$name stopped ($(($(date +%s%N) / 1000000 - ms0)) ms)"
  fi
  rm -f "$PIDS/$name"
}

stop() {
  stop_daemon kube-proxy
  stop_daemon kubelet
  # The pods' containers outlive the kubelet and containerd (containerd-shim-runc-v2 keeps them):
  # remove them through the CRI plugin's namespace while containerd still runs.
  if [[ -S $CTR_SOCK ]] && ctr version >/dev/null 2>&1; then
    local c
    for c in $(ctr tasks ls -q 2>/dev/null); do ctr tasks kill -s SIGKILL "$c" >/dev/null 2>&1 || true; done
    sleep 1
    for c in $(ctr tasks ls -q 2>/dev/null); do ctr tasks delete -f "$c" >/dev/null 2>&1 || true; done
    for c in $(ctr containers ls -q 2>/dev/null); do ctr containers delete "$c" >/dev/null 2>&1 || true; done
  fi
  stop_daemon containerd
  stop_daemon kube-scheduler
  stop_daemon kube-controller-manager
  stop_daemon kube-apiserver
  stop_daemon etcd
  # Leftover shims (a shim whose task was deleted exits by itself; this is the safety net).
  local pid
  for pid in $(pgrep -f "containerd-shim-runc-v2 -namespace k8s.io .*-address $CTR_SOCK" || true); do kill -9 "$pid" 2>/dev/null || true; done
  # Mounts under our directories, deepest first: rootfs overlays, sandbox shm, kubelet volumes.
  local m
  for m in $(awk -v s="$STATE" -v r="$RUN" 'index($2, s) == 1 || index($2, r) == 1 { print $2 }' /proc/mounts | sort -r); do
    umount -l "$m" 2>/dev/null || true
  done
  # The CRI plugin names its network namespaces cni-<uuid> under /var/run/netns.
  local ns
  for ns in $(ip netns list 2>/dev/null | awk '$1 ~ /^cni-/ { print $1 }'); do
    ip netns delete "$ns" 2>/dev/null || true
  done
  ip link show "$BRIDGE" >/dev/null 2>&1 && ip link delete "$BRIDGE"
  # kube-proxy's iptables rules.
  if [[ -x $BIN_DIR/kube-proxy ]]; then "$BIN_DIR/kube-proxy" --cleanup >/dev/null 2>&1 || true; fi
  # What the kubelet itself adds (kube-proxy --cleanup leaves it): KUBE-FIREWALL jumped to from
  # INPUT/OUTPUT (drops non-loopback-sourced packets to 127.0.0.0/8), KUBE-KUBELET-CANARY and
  # KUBE-IPTABLES-HINT, in IPv4 and IPv6.
  local ipt table chain
  for ipt in iptables ip6tables; do
    command -v "$ipt" >/dev/null || continue
    for chain in INPUT OUTPUT; do
      while "$ipt" -t filter -D "$chain" -j KUBE-FIREWALL 2>/dev/null; do :; done
    done
    for table in filter nat mangle; do
      for chain in KUBE-FIREWALL KUBE-KUBELET-CANARY KUBE-IPTABLES-HINT; do
        "$ipt" -t "$table" -F "$chain" 2>/dev/null && "$ipt" -t "$table" -X "$chain" 2>/dev/null
      done
    done
  done
  # The kubelet's cgroups (cgroupfs driver, cgroup v1): /kubepods/... in every hierarchy, leaves first.
  local cg
  for cg in /sys/fs/cgroup/*/kubepods; do
    [[ -d $cg ]] && find "$cg" -depth -type d -exec rmdir {} + 2>/dev/null
  done
  # containerd 1.6 puts its shims' sockets under /run/containerd/s whatever its state directory.
  rmdir /run/containerd/s /run/containerd 2>/dev/null || true
  # A throwaway cluster: the next start begins empty (no stale Ready node, no old pods).
  rm -rf "$STATE/cni/ipam" "$STATE/etcd" "$STATE/kubelet" "$RUN/runc"
  log "stopped"
}

smoke() {
  local image t0
  image="$(ctr images ls -q | grep '^cutover.local/sample-app:' | head -1)"
  [[ -n $image ]] || die "no sample-app image in containerd"
  t0=$SECONDS
  kubectl apply -f - <<EOF
apiVersion: apps/v1
kind: Deployment
metadata: {name: smoke}
spec:
  replicas: 2
  selector: {matchLabels: {app: smoke}}
  template:
    metadata: {labels: {app: smoke}}
    spec:
      terminationGracePeriodSeconds: 30
      containers:
      - name: app
        image: $image
        imagePullPolicy: Never
        env:
        - {name: CUTOVER_MODULES, value: Web}
        - {name: CUTOVER_VERSION, value: v1}
        - name: CUTOVER_REPLICA_ID
          valueFrom: {fieldRef: {fieldPath: metadata.name}}
        ports: [{containerPort: 8080}]
        readinessProbe:
          httpGet: {path: /Web/_ping.html, port: 8080}
          periodSeconds: 1
        lifecycle:
          preStop:
            sleep: {seconds: 2}
---
apiVersion: v1
kind: Service
metadata: {name: smoke}
spec:
  selector: {app: smoke}
  ports: [{port: 80, targetPort: 8080}]
EOF
  kubectl rollout status deployment/smoke --timeout 120s
  log "Deployment smoke (2 replicas) available after $((SECONDS - t0)) s"
  kubectl get pods -o wide
  local ip pod
  ip="$(kubectl get pods -l app=smoke -o jsonpath='{.items[0].status.podIP}')"
  pod="$(kubectl get pods -l app=smoke -o jsonpath='{.items[0].metadata.name}')"
  log "curl http://$ip:8080/Web/hello (pod $pod)"
  curl -sS -i --max-time 5 "http://$ip:8080/Web/hello"
  echo
  local cip
  cip="$(kubectl get service smoke -o jsonpath='{.spec.clusterIP}')"
  log "curl http://$cip/Web/hello (Service ClusterIP, kube-proxy)"
  # kube-proxy writes the Service's rules a moment after its endpoints appear (iptables
  # minSyncPeriod 1 s): retry for up to 15 s.
  local i
  for ((i = 0; i < 75; i++)); do
    if curl -sS --max-time 1 "http://$cip/Web/hello" 2>/dev/null; then
      echo
      log "ClusterIP answered after $i retries (0.2 s apart)"
      break
    fi
    sleep 0.2
  done
  ((i < 75)) || log "ClusterIP not reachable from the host after 15 s"
  # Graceful termination: a request in flight (6 s) when the pod is deleted must be answered.
  # The kubelet runs preStop (sleep 2 s), then sends SIGTERM; the app stops accepting, finishes
  # the request (Connection: close) and exits 0, well inside terminationGracePeriodSeconds.
  local tmp ms0
  tmp="$(mktemp -d)"
  kubectl logs -f "$pod" >"$tmp/app.log" 2>&1 &
  local logs_pid=$!
  ms0=$(($(date +%s%N) / 1000000))
  curl -sS -o "$tmp/body" -w '%{http_code} after %{time_total} s\n' -H 'x-sample-delay-ms: 6000' \
    -H 'x-request-id: in-flight-1' --max-time 20 "http://$ip:8080/Web/slow" >"$tmp/curl" 2>&1 &
  local curl_pid=$!
  sleep 0.5
  log "deleting pod $pod with a 6 s request in flight (preStop sleep 2 s, then SIGTERM)"
  kubectl delete pod "$pod" --wait=false
  wait "$curl_pid" || true
  log "in-flight request: $(cat "$tmp/curl") $(cat "$tmp/body")"
  kubectl wait --for=delete "pod/$pod" --timeout 60s >/dev/null
  log "pod $pod gone $(($(date +%s%N) / 1000000 - ms0)) ms after the request started"
  kill "$logs_pid" 2>/dev/null || true
  log "app log:"
  sed 's/^/    /' "$tmp/app.log"
  rm -rf "$tmp"
  kubectl rollout status deployment/smoke --timeout 120s
  kubectl delete service smoke
  kubectl delete deployment smoke --wait=true
}

case "${1:-}" in
  start) start ;;
  stop) stop ;;
  status) node_ready || exit 3 ;;
  env) printf 'KUBECONFIG=%s\n' "$KUBECONFIG_ADMIN" ;;
  smoke) smoke ;;
  *) die "usage: $0 start|stop|status|env|smoke" ;;
esac
