#!/usr/bin/env bash
# A local Temporal dev server (with its Web UI) for development and the demo.
#
#   scripts/temporal-server.sh start    start it in the background (or reuse one already answering), wait until SERVING
#   scripts/temporal-server.sh stop     SIGTERM the one this script started, wait for it to exit
#   scripts/temporal-server.sh status   print whether it is SERVING; exit 0 if so, 3 if not
#
# Environment:
#   TEMPORAL_PORT        gRPC port (default 7233)
#   TEMPORAL_UI_PORT     Web UI port (default 8233)
#   CUTOVER_DATA_DIR     where temporal.db, temporal.log and temporal.pid live (default .cutover in the repo)
#   TEMPORAL_BIN         the Temporal CLI (default: from .cutover/tools.env, written by `make provision`)
#   TEMPORAL_START_TIMEOUT  seconds to wait for SERVING (default 60)
set -euo pipefail

REPO_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
PORT="${TEMPORAL_PORT:-7233}"
UI_PORT="${TEMPORAL_UI_PORT:-8233}"
DATA_DIR="${CUTOVER_DATA_DIR:-$REPO_ROOT/.cutover}"
START_TIMEOUT="${TEMPORAL_START_TIMEOUT:-60}"
STOP_TIMEOUT=30
ADDRESS="127.0.0.1:$PORT"
DB_FILE="$DATA_DIR/temporal.db"
LOG_FILE="$DATA_DIR/temporal.log"
PID_FILE="$DATA_DIR/temporal.pid"
# The search attributes Cutover's workflows set (keep in sync with scripts/dev-server.ts).
SEARCH_ATTRIBUTES=(
  CutoverApplication=Keyword
  CutoverEnvironment=Keyword
  CutoverStrategy=Keyword
  CutoverVersion=Keyword
  CutoverPhase=Keyword
)

log() { printf '[temporal] %s\n' "$*"; }
die() {
  printf '[temporal] ERROR: %s\n' "$*" >&2
  exit 1
}

find_temporal() {
  if [[ -n ${TEMPORAL_BIN:-} ]]; then
    printf '%s\n' "$TEMPORAL_BIN"
    return
  fi
  local env_file="$REPO_ROOT/.cutover/tools.env" line
  if [[ -f $env_file ]]; then
    line="$(grep -E '^TEMPORAL_BIN=' "$env_file" | tail -n1 || true)"
    if [[ -n $line ]]; then
      printf '%s\n' "${line#TEMPORAL_BIN=}"
      return
    fi
  fi
  command -v temporal || true
}

TEMPORAL="$(find_temporal)"
[[ -n $TEMPORAL && -x $TEMPORAL ]] || die "no Temporal CLI found (TEMPORAL_BIN, .cutover/tools.env, PATH); run \`make provision\`"

healthy() {
  local out
  out="$("$TEMPORAL" operator cluster health --address "$ADDRESS" --command-timeout 3s 2>/dev/null)" || return 1
  [[ $out == *SERVING* && $out != *NOT_SERVING* ]]
}

# The pid in the pid file, if that process is still a Temporal dev server.
our_pid() {
  [[ -f $PID_FILE ]] || return 1
  local pid
  pid="$(cat "$PID_FILE")"
  [[ $pid =~ ^[0-9]+$ ]] || return 1
  kill -0 "$pid" 2>/dev/null || return 1
  if [[ -r /proc/$pid/cmdline ]]; then
    tr '\0' ' ' <"/proc/$pid/cmdline" | grep -q 'start-dev' || return 1
  fi
  printf '%s\n' "$pid"
}

show_log_tail() {
  if [[ -s $LOG_FILE ]]; then
    printf '[temporal] last lines of %s:\n' "$LOG_FILE" >&2
    tail -n 40 "$LOG_FILE" >&2
  else
    printf '[temporal] %s is empty\n' "$LOG_FILE" >&2
  fi
}

start() {
  mkdir -p "$DATA_DIR"
  if healthy; then
    local pid
    if pid="$(our_pid)"; then
      log "already running (pid $pid) at $ADDRESS, UI http://127.0.0.1:$UI_PORT"
    else
      log "a Temporal server already answers at $ADDRESS; reusing it (not started by this script)"
    fi
    return 0
  fi

  local pid
  if pid="$(our_pid)"; then
    log "pid $pid is starting; waiting for it"
  else
    local args=(server start-dev
      --db-filename "$DB_FILE"
      --ip 127.0.0.1
      --port "$PORT"
      --ui-port "$UI_PORT"
      --log-level warn)
    # The UI's news feed fetches from the internet; newer CLIs (1.9) can turn it off, older ones (go-built 1.5.1) lack it.
    if "$TEMPORAL" server start-dev --help 2>/dev/null | grep -q -- '--ui-disable-news-fetch'; then
      args+=(--ui-disable-news-fetch)
    fi
    local sa
    for sa in "${SEARCH_ATTRIBUTES[@]}"; do args+=(--search-attribute "$sa"); done
    log "starting $TEMPORAL ${args[*]}"
    printf '\n==== %s: %s %s\n' "$(date -u +%FT%TZ)" "$TEMPORAL" "${args[*]}" >>"$LOG_FILE"
    # Its own session: Ctrl-C in this terminal or the end of `make` does not stop it; `stop` does.
    if command -v setsid >/dev/null; then
      nohup setsid "$TEMPORAL" "${args[@]}" </dev/null >>"$LOG_FILE" 2>&1 &
    else
      nohup "$TEMPORAL" "${args[@]}" </dev/null >>"$LOG_FILE" 2>&1 &
    fi
    pid=$!
    printf '%s\n' "$pid" >"$PID_FILE"
  fi

  local started=$SECONDS
  while ((SECONDS - started < START_TIMEOUT)); do
    if healthy; then
      log "SERVING at $ADDRESS (pid $pid, $((SECONDS - started))s); UI http://127.0.0.1:$UI_PORT; log $LOG_FILE"
      return 0
    fi
    if ! kill -0 "$pid" 2>/dev/null; then
      rm -f "$PID_FILE"
      show_log_tail
      die "the server (pid $pid) exited before it was SERVING (see the log above; is port $PORT or $UI_PORT taken?)"
    fi
    sleep 0.5
  done
  show_log_tail
  die "not SERVING at $ADDRESS after ${START_TIMEOUT}s (pid $pid left running; \`$0 stop\` ends it)"
}

stop() {
  local pid
  if ! pid="$(our_pid)"; then
    rm -f "$PID_FILE"
    if healthy; then
      log "a Temporal server answers at $ADDRESS but this script did not start it; leaving it alone"
    else
      log "not running"
    fi
    return 0
  fi
  log "stopping pid $pid (SIGTERM)"
  kill -TERM "$pid" 2>/dev/null || true
  local started=$SECONDS
  while kill -0 "$pid" 2>/dev/null; do
    if ((SECONDS - started >= STOP_TIMEOUT)); then
      log "pid $pid still running after ${STOP_TIMEOUT}s; SIGKILL"
      kill -KILL "$pid" 2>/dev/null || true
      break
    fi
    sleep 0.2
  done
  rm -f "$PID_FILE"
  log "stopped"
}

status() {
  local pid=""
  pid="$(our_pid)" || pid=""
  if healthy; then
    if [[ -n $pid ]]; then
      log "SERVING at $ADDRESS (pid $pid, started by this script); UI http://127.0.0.1:$UI_PORT"
    else
      log "SERVING at $ADDRESS (not started by this script)"
    fi
    return 0
  fi
  if [[ -n $pid ]]; then
    log "pid $pid is running but not SERVING at $ADDRESS"
  else
    log "not running at $ADDRESS"
  fi
  return 3
}

case "${1:-}" in
  start) start ;;
  stop) stop ;;
  status) status ;;
  *)
    sed -n '2,14p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//' >&2
    exit 2
    ;;
esac
