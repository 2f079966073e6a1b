#!/usr/bin/env python3
"""A small web application that is not Cutover's code: Python's standard library only.

It stands for an ordinary application in a container, the kind Cutover must deploy without knowing anything about
it: it listens on the PORT it is given, serves one page per module, answers a health page, takes its time to start
and to warm up if told to, keeps long-lived connections (server-sent events) open, and stops gracefully on SIGTERM.
It never writes CUTOVER_READY_FILE: a platform knows it has started because its port accepts connections.

    GET  /<Module>/               the module's page (JSON), after PYAPP_PAGE_LATENCY_MS
    POST /<Module>/...            the same, saying how many body bytes arrived
    GET  /<Module>/_ping.html     200 "OK" once warmed up, 503 before (the OutSystems health page)
    GET  /<Module>/events         server-sent events: "hello" (version, replica), a "tick" every
                                  PYAPP_SSE_INTERVAL_MS, and "bye" when the replica stops (then the stream ends)
    unknown module                404

Every answer carries x-cutover-version and x-cutover-replica; a request's x-request-id is echoed; a request
carrying x-sample-delay-ms (the load generator's slow requests) takes that much longer (at most 30 s).

Environment:
    PORT                    the port to listen on (required; 0 picks one and prints it)
    HOST                    the address to bind (default 127.0.0.1)
    CUTOVER_VERSION         the version it reports (default 0.0.0)
    CUTOVER_MODULES         comma-separated module names
    CUTOVER_REPLICA_ID      its replica id (default pid-<pid>)
    PYAPP_START_DELAY_MS    how long it prepares before it listens at all (a slow start)
    PYAPP_WARMUP_MS         how long the health page answers 503 once listening (a slow warm-up)
    PYAPP_PAGE_LATENCY_MS   how long every page takes
    PYAPP_SSE_INTERVAL_MS   time between two "tick" events (default 500)
    PYAPP_DELIVERY_LOG      a file it appends one JSON line to per event (a request with x-request-id received,
                            answered or aborted; a stream opened or ended; its own SIGTERM), in the order they
                            happened (O_APPEND), in the sample application's format plus its pid (a replica id
                            is reused when the same version is deployed again; the process is not)

SIGTERM: stop accepting, end every event stream with "bye", answer the requests in flight (with
Connection: close), close idle keep-alive connections, exit 0 (exit 1 if still busy after 10 s).
"""

import json
import os
import signal
import socket
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import unquote, urlsplit

HARD_EXIT_AFTER_S = 10
MAX_REQUEST_DELAY_MS = 30_000
MAX_BODY_BYTES = 1024 * 1024


def env_ms(name, default=0):
    raw = os.environ.get(name, "")
    if raw == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        sys.exit(f"{name} must be a whole number of milliseconds, got {raw!r}")
    if value < 0:
        sys.exit(f"{name} must not be negative, got {raw!r}")
    return value


def log(message):
    stamp = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime())
    sys.stdout.write(f"{stamp} {message}\n")
    sys.stdout.flush()


class Config:
    def __init__(self):
        if "PORT" not in os.environ:
            sys.exit("PORT is required: the platform says where to listen")
        self.port = env_ms("PORT")
        self.host = os.environ.get("HOST") or "127.0.0.1"
        self.version = os.environ.get("CUTOVER_VERSION") or "0.0.0"
        self.modules = {m.strip() for m in os.environ.get("CUTOVER_MODULES", "").split(",") if m.strip()}
        self.replica = os.environ.get("CUTOVER_REPLICA_ID") or f"pid-{os.getpid()}"
        self.start_delay_ms = env_ms("PYAPP_START_DELAY_MS")
        self.warmup_ms = env_ms("PYAPP_WARMUP_MS")
        self.page_latency_ms = env_ms("PYAPP_PAGE_LATENCY_MS")
        self.sse_interval_ms = env_ms("PYAPP_SSE_INTERVAL_MS", 500) or 500
        self.delivery_log = os.environ.get("PYAPP_DELIVERY_LOG") or None


class DeliveryLog:
    """One write per line on an O_APPEND descriptor: lines of every replica sharing the file never interleave."""

    def __init__(self, config):
        self.config = config
        self.fd = os.open(config.delivery_log, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644) if config.delivery_log else None

    def __call__(self, **event):
        if self.fd is None:
            return
        event.update(version=self.config.version, replica=self.config.replica, pid=os.getpid())
        os.write(self.fd, (json.dumps(event) + "\n").encode())


class App:
    def __init__(self, config):
        self.config = config
        self.deliveries = DeliveryLog(config)
        self.stopping = threading.Event()
        self.listening_at = None
        self.lock = threading.Lock()
        # Each open connection's handler, and whether it is between requests (idle: safe to close at a stop).
        self.connections = {}
        self.unhealthy_answers = 0
        self.healthy_logged = False

    def warm(self):
        return self.listening_at is not None and (time.monotonic() - self.listening_at) * 1000 >= self.config.warmup_ms

    def health_check(self):
        """One answer of the health page; the first healthy one is logged with how many failed before it."""
        ok = self.warm()
        with self.lock:
            if not ok:
                self.unhealthy_answers += 1
            elif not self.healthy_logged:
                self.healthy_logged = True
                log(f"healthy after {self.unhealthy_answers} failed health checks")
        return ok

    def track(self, handler, idle):
        with self.lock:
            self.connections[handler] = idle

    def forget(self, handler):
        with self.lock:
            self.connections.pop(handler, None)

    def close_idle(self):
        with self.lock:
            idle = [h for h, is_idle in self.connections.items() if is_idle]
        for handler in idle:
            try:
                handler.connection.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass

    def busy(self):
        with self.lock:
            return sum(1 for is_idle in self.connections.values() if not is_idle)


def make_handler(app):
    config = app.config

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"  # keep-alive, as a load balancer's upstream connections expect
        server_version = "pyapp/1"

        def setup(self):
            super().setup()
            app.track(self, idle=True)

        def finish(self):
            app.forget(self)
            super().finish()

        def handle_one_request(self):
            # Idle while waiting for a request line; busy from its first byte until the answer is written.
            try:
                self.raw_requestline = self.rfile.readline(65537)
            except OSError:
                self.close_connection = True
                return
            if not self.raw_requestline:
                self.close_connection = True
                return
            app.track(self, idle=False)
            try:
                if not self.parse_request():
                    return
                method = getattr(self, "do_" + self.command, None)
                if method is None:
                    self.send_error(501, f"unsupported method {self.command}")
                    return
                method()
                self.wfile.flush()
            finally:
                if app.stopping.is_set():
                    self.close_connection = True
                app.track(self, idle=True)

        def log_message(self, fmt, *args):
            pass  # one line per request would drown the replica's log

        def do_GET(self):
            self.serve(0)

        def do_HEAD(self):
            self.serve(0)

        def do_POST(self):
            length = int(self.headers.get("content-length") or 0)
            if length > MAX_BODY_BYTES:
                self.answer(413, "text/plain", b"request body too large", close=True)
                return
            received = 0
            while received < length:
                chunk = self.rfile.read(min(65536, length - received))
                if not chunk:
                    break
                received += len(chunk)
            self.serve(received)

        def do_PUT(self):
            self.do_POST()

        def answer(self, status, content_type, body, close=False, extra=None):
            self.send_response(status)
            self.send_header("content-type", content_type)
            self.send_header("content-length", str(len(body)))
            self.send_header("x-cutover-version", config.version)
            self.send_header("x-cutover-replica", config.replica)
            request_id = self.headers.get("x-request-id")
            if request_id is not None:
                self.send_header("x-request-id", request_id)
            for name, value in (extra or {}).items():
                self.send_header(name, value)
            if close or app.stopping.is_set():
                self.send_header("connection", "close")
                self.close_connection = True
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(body)

        def serve(self, body_bytes):
            path = urlsplit(self.path).path
            module = unquote(path.split("/")[1]) if path.count("/") >= 1 else ""
            if module not in config.modules:
                body = json.dumps({"error": f'unknown module "{module}"', "modules": sorted(config.modules)})
                self.answer(404, "application/json", body.encode())
                return
            if path == f"/{module}/_ping.html":
                ok = app.health_check()
                self.answer(200 if ok else 503, "text/html", b"OK" if ok else b"WARMING UP")
                return
            if path == f"/{module}/events" and self.command == "GET":
                self.stream(module)
                return
            request_id = self.headers.get("x-request-id")
            if request_id is not None:
                app.deliveries(event="received", id=request_id, method=self.command)
            try:
                requested = int(self.headers.get("x-sample-delay-ms") or 0)
            except ValueError:
                requested = 0
            delay_ms = config.page_latency_ms + min(max(0, requested), MAX_REQUEST_DELAY_MS)
            if delay_ms:
                time.sleep(delay_ms / 1000)
            body = json.dumps(
                {
                    "application": "pyapp",
                    "module": module,
                    "version": config.version,
                    "replica": config.replica,
                    "path": path,
                    "method": self.command,
                    "requestId": request_id,
                    "bodyBytes": body_bytes,
                }
            ).encode()
            try:
                self.answer(200, "application/json", body)
            except OSError:
                if request_id is not None:
                    app.deliveries(event="aborted", id=request_id, status=200)
                raise
            if request_id is not None:
                app.deliveries(event="answered", id=request_id, status=200)

        def stream(self, module):
            """Server-sent events until the replica stops: then "bye", and the stream ends (chunked, cleanly)."""
            stream_id = self.headers.get("x-stream-id") or f"{config.replica}-{id(self)}"
            self.send_response(200)
            self.send_header("content-type", "text/event-stream")
            self.send_header("cache-control", "no-cache")
            self.send_header("transfer-encoding", "chunked")
            # nginx passes the events on as they come instead of buffering them.
            self.send_header("x-accel-buffering", "no")
            self.send_header("x-cutover-version", config.version)
            self.send_header("x-cutover-replica", config.replica)
            self.end_headers()
            hello = json.dumps({"version": config.version, "replica": config.replica, "module": module})
            app.deliveries(event="stream-opened", id=stream_id)
            ended = "client-gone"
            try:
                self.chunk(f"event: hello\ndata: {hello}\n\n")
                tick = 0
                while not app.stopping.wait(config.sse_interval_ms / 1000):
                    tick += 1
                    self.chunk(f"event: tick\ndata: {tick}\n\n")
                self.chunk('event: bye\ndata: {"reason": "stopping"}\n\n')
                self.wfile.write(b"0\r\n\r\n")
                self.wfile.flush()
                ended = "bye"
            except OSError:
                pass
            finally:
                app.deliveries(event="stream-ended", id=stream_id, how=ended)
                self.close_connection = True

        def chunk(self, text):
            data = text.encode()
            self.wfile.write(b"%x\r\n%s\r\n" % (len(data), data))
            self.wfile.flush()

    return Handler


class Server(ThreadingHTTPServer):
    daemon_threads = True  # a stop waits for busy connections itself (App.busy), not for idle ones
    allow_reuse_address = False  # a port someone else holds is an error, not shared


def main():
    config = Config()
    app = App(config)
    stop_requested = threading.Event()

    def on_signal(signum, _frame):
        stop_requested.set()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)

    if config.start_delay_ms:
        log(f"preparing for {config.start_delay_ms} ms before listening")
        if stop_requested.wait(config.start_delay_ms / 1000):
            log("stopped before listening")
            return 0
    try:
        server = Server((config.host, config.port), make_handler(app))
    except OSError as err:
        log(f"cannot listen on {config.host}:{config.port}: {err}")
        return 2
    app.listening_at = time.monotonic()
    port = server.server_address[1]
    log(
        f"pyapp {config.version} replica {config.replica} listening on http://{config.host}:{port} "
        f"(modules: {', '.join(sorted(config.modules)) or 'none'}; warm-up {config.warmup_ms} ms)"
    )
    serving = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.1}, daemon=True)
    serving.start()

    stop_requested.wait()
    app.deliveries(event="stopping", signal="SIGTERM")
    log("SIGTERM: shutting down gracefully")
    app.stopping.set()  # streams say bye; answers from now on carry Connection: close
    server.shutdown()  # no new connections are accepted...
    server.server_close()  # ...and the port is closed
    deadline = time.monotonic() + HARD_EXIT_AFTER_S
    while time.monotonic() < deadline:
        app.close_idle()
        if app.busy() == 0:
            log("stopped")
            return 0
        time.sleep(0.05)
    log(f"still busy after {HARD_EXIT_AFTER_S} s: exiting hard")
    return 1


if __name__ == "__main__":
    sys.exit(main())
