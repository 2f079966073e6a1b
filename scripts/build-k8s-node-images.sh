#!/usr/bin/env bash
# Build the two container images a real Kubernetes node here needs, with no registry and no
# Docker: the pod sandbox ("pause") image and the sample application image. Each is written as a
# docker-archive tarball (the `docker save` layout: manifest.json, one config, one layer) that
# `ctr -n k8s.io images import` reads.
#
#   scripts/build-k8s-node-images.sh            build whatever is missing; a no-op when both exist
#   scripts/build-k8s-node-images.sh --print    then print the two tarball paths, one a line
#
# Into ${CUTOVER_CACHE:-$HOME/.cache/cutover}/k8s-node/images/ (outside the repo):
#   pause-3.10.2.tar       cutover.local/pause:3.10.2      Kubernetes' own build/pause/linux/pause.c
#                                                           (from the k8s.io/kubernetes v1.36.3 module),
#                                                           built with the release's CFLAGS (-Os -static)
#   sample-app-<id>.tar    cutover.local/sample-app:<id>   /usr/bin/node (the host's Node.js), the shared
#                                                           libraries `ldd` names, and
#                                                           examples/sample-app/server.ts compiled to
#                                                           /app/server.js; <id> is a hash of those inputs,
#                                                           so a changed node or server gives a new tag
#
# Tarballs are reproducible for the same inputs (sorted entries, mtime 0, uid/gid 0).
#
# Environment:
#   CUTOVER_CACHE   cache root (default $HOME/.cache/cutover)
#   NODE            the node binary to copy (default: node on PATH)
#   CC              the C compiler for pause (default gcc; needs a static libc, libc6-dev)
set -euo pipefail

REPO_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
K8S_VERSION=v1.36.3
PAUSE_TAG=3.10.2
CACHE_ROOT="${CUTOVER_CACHE:-$HOME/.cache/cutover}"
IMG_DIR="$CACHE_ROOT/k8s-node/images"
GOMODCACHE_DIR="$CACHE_ROOT/go/pkg/mod"

log() { printf '[node-images] %s\n' "$*"; }
die() {
  printf '[node-images] ERROR: %s\n' "$*" >&2
  exit 1
}

PRINT=0
case "${1:-}" in
  "") ;;
  --print) PRINT=1 ;;
  *) die "usage: $0 [--print]" ;;
esac

mkdir -p "$IMG_DIR"
NICE=(nice -n 19)

sha() { sha256sum "$1" | cut -d' ' -f1; }

# write_archive OUT REF ROOTFS CONFIG_JSON_FRAGMENT: a one-layer docker-archive of ROOTFS.
# CONFIG_JSON_FRAGMENT is the image config's "config" object (Entrypoint, Env, ...).
write_archive() {
  local out=$1 ref=$2 rootfs=$3 cfg=$4
  local work
  work="$(mktemp -d)"
  tar --sort=name --mtime=@0 --owner=0 --group=0 --numeric-owner -C "$rootfs" -cf "$work/layer.tar" .
  local diff_id
  diff_id="$(sha "$work/layer.tar")"
  mkdir -p "$work/$diff_id"
  mv "$work/layer.tar" "$work/$diff_id/layer.tar"
  jq -cn --argjson cfg "$cfg" --arg diff "sha256:$diff_id" '{
    architecture: "amd64", os: "linux", created: "1970-01-01T00:00:00Z", config: $cfg,
    rootfs: {type: "layers", diff_ids: [$diff]},
    history: [{created: "1970-01-01T00:00:00Z", created_by: "scripts/build-k8s-node-images.sh"}]
  }' >"$work/config.json"
  local cfg_id
  cfg_id="$(sha "$work/config.json")"
  mv "$work/config.json" "$work/$cfg_id.json"
  jq -cn --arg c "$cfg_id.json" --arg r "$ref" --arg l "$diff_id/layer.tar" \
    '[{Config: $c, RepoTags: [$r], Layers: [$l]}]' >"$work/manifest.json"
  tar --sort=name --mtime=@0 --owner=0 --group=0 --numeric-owner -C "$work" \
    -cf "$out.tmp.$$" manifest.json "$cfg_id.json" "$diff_id"
  mv -f "$out.tmp.$$" "$out"
  rm -rf "$work"
}

# --- pause ------------------------------------------------------------------------------------
PAUSE_TAR="$IMG_DIR/pause-$PAUSE_TAG.tar"
if [[ -f $PAUSE_TAR ]]; then
  log "pause present"
else
  t0=$SECONDS
  src="$GOMODCACHE_DIR/k8s.io/kubernetes@$K8S_VERSION/build/pause/linux/pause.c"
  [[ -f $src ]] || die "no $src: run scripts/build-k8s.sh first (it downloads k8s.io/kubernetes)"
  root="$(mktemp -d)"
  # The Makefile's CFLAGS: -Os -Wall -Werror -static -DVERSION=v$(TAG)-$(REV).
  "${NICE[@]}" "${CC:-gcc}" -Os -Wall -Werror -static "-DVERSION=v$PAUSE_TAG-cutover" -o "$root/pause" "$src" ||
    die "compiling pause failed (a static libc is needed: apt-get install libc6-dev)"
  strip "$root/pause"
  write_archive "$PAUSE_TAR" "cutover.local/pause:$PAUSE_TAG" "$root" '{"Entrypoint":["/pause"],"User":"65535:65535"}'
  rm -rf "$root"
  log "pause built in $((SECONDS - t0)) s ($(du -h "$PAUSE_TAR" | cut -f1))"
fi

# --- sample app -------------------------------------------------------------------------------
NODE_BIN="${NODE:-$(command -v node || true)}"
[[ -n $NODE_BIN && -x $NODE_BIN ]] || die "no node binary (set NODE=...)"
NODE_BIN="$(readlink -f "$NODE_BIN")"
SERVER_TS="$REPO_ROOT/examples/sample-app/server.ts"
mapfile -t libs < <(ldd "$NODE_BIN" | awk '$2 == "=>" && $3 ~ /^\// { print $3 } $1 ~ /^\// { print $1 }')
app_id="$(cat "$NODE_BIN" "$SERVER_TS" "${libs[@]}" | sha256sum | cut -c1-12)"
APP_REF="cutover.local/sample-app:$app_id"
APP_TAR="$IMG_DIR/sample-app-$app_id.tar"
if [[ -f $APP_TAR ]]; then
  log "sample-app present ($APP_REF)"
else
  t0=$SECONDS
  root="$(mktemp -d)"
  mkdir -p "$root/usr/bin" "$root/app" "$root/tmp" "$root/etc"
  chmod 1777 "$root/tmp"
  cp "$NODE_BIN" "$root/usr/bin/node"
  for l in "${libs[@]}"; do
    mkdir -p "$root$(dirname "$l")"
    cp -L "$l" "$root$l"
  done
  # /lib64 and /lib are symlinks on Debian; the dynamic loader's path must resolve as on the host.
  printf 'root:x:0:0:root:/:/usr/bin/node\nnobody:x:65534:65534:nobody:/:/usr/bin/node\n' >"$root/etc/passwd"
  printf 'root:x:0:\nnogroup:x:65534:\n' >"$root/etc/group"
  # Self-contained (node:* modules only), so one file compiled on its own is the whole app.
  "${NICE[@]}" "$REPO_ROOT/node_modules/.bin/tsc" --outDir "$root/app" --target es2022 --module commonjs \
    --types node --skipLibCheck --strict "$SERVER_TS" || die "compiling $SERVER_TS failed"
  write_archive "$APP_TAR" "$APP_REF" "$root" \
    '{"Entrypoint":["/usr/bin/node","/app/server.js"],"Env":["PATH=/usr/bin","HOST=0.0.0.0","PORT=8080"],"ExposedPorts":{"8080/tcp":{}},"User":"65534:65534","WorkingDir":"/app"}'
  rm -rf "$root"
  log "sample-app built in $((SECONDS - t0)) s ($(du -h "$APP_TAR" | cut -f1), $APP_REF)"
fi

if ((PRINT)); then
  printf '%s\n' "$PAUSE_TAR" "$APP_TAR"
fi
