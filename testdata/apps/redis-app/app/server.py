"""slimtrace test fixture: a stdlib-only web app that needs Redis.

It talks to Redis at $REDIS_HOST (default "redis") port 6379 over a plain
socket, speaking RESP itself (no client library), so the app works only
when a Redis runs beside it.

Routes:
  /          JSON {"greeting": ..., "hits": N}: seeds slimtrace:greeting
             (SET ... NX), counts the request (INCR slimtrace:hits) and reads
             the greeting back (GET); 500 with a one-line reason when Redis
             cannot be reached or answers with an error
  /healthz   plain "ok", without touching Redis
"""

import http.server
import json
import os
import signal
import socket
import sys

PORT = int(os.environ.get("PORT", "8080"))
REDIS_HOST = os.environ.get("REDIS_HOST", "redis")
REDIS_PORT = 6379
GREETING = "hello from redis"


class RedisError(Exception):
    pass


def command(*args):
    """A RESP array of bulk strings."""
    out = [b"*%d\r\n" % len(args)]
    for a in args:
        a = a.encode() if isinstance(a, str) else a
        out.append(b"$%d\r\n%s\r\n" % (len(a), a))
    return b"".join(out)


def read_reply(f):
    """One RESP reply: simple string, error, integer or bulk string."""
    line = f.readline()
    if not line.endswith(b"\r\n"):
        raise RedisError("connection closed by redis")
    kind, rest = line[:1], line[1:-2]
    if kind == b"+":
        return rest.decode()
    if kind == b"-":
        raise RedisError("redis answered: " + rest.decode())
    if kind == b":":
        return int(rest)
    if kind == b"$":
        n = int(rest)
        if n < 0:
            return None
        data = f.read(n + 2)
        if len(data) != n + 2:
            raise RedisError("connection closed by redis")
        return data[:-2].decode()
    raise RedisError("unexpected reply %r" % line[:40])


def talk(*commands):
    """Sends the commands on one connection and returns their replies."""
    try:
        with socket.create_connection((REDIS_HOST, REDIS_PORT), timeout=3) as s:
            s.sendall(b"".join(command(*c) for c in commands))
            with s.makefile("rb") as f:
                return [read_reply(f) for _ in commands]
    except OSError as e:
        raise RedisError("cannot reach redis at %s:%d: %s" % (REDIS_HOST, REDIS_PORT, e)) from e


class Handler(http.server.BaseHTTPRequestHandler):
    server_version = "slimtrace-redis-app/1"

    def do_GET(self):
        path = self.path.split("?", 1)[0]
        if path == "/":
            self.index()
        elif path == "/healthz":
            self.reply(200, "text/plain", b"ok\n")
        else:
            self.reply(404, "text/plain", b"not found\n")

    def index(self):
        try:
            _, hits, greeting = talk(
                ("SET", "slimtrace:greeting", GREETING, "NX"),
                ("INCR", "slimtrace:hits"),
                ("GET", "slimtrace:greeting"),
            )
        except RedisError as e:
            self.reply(500, "text/plain", ("redis-app: %s\n" % e).encode())
            return
        body = json.dumps({"greeting": greeting, "hits": hits}).encode()
        self.reply(200, "application/json", body)

    def reply(self, status, ctype, body):
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, fmt, *args):
        sys.stderr.write("%s %s\n" % (self.address_string(), fmt % args))


def main():
    # As PID 1 in a container, SIGTERM is ignored unless handled.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    server = http.server.ThreadingHTTPServer(("", PORT), Handler)
    print("listening on :%d, redis at %s:%d" % (PORT, REDIS_HOST, REDIS_PORT), file=sys.stderr, flush=True)
    try:
        server.serve_forever()
    except (KeyboardInterrupt, SystemExit):
        pass


if __name__ == "__main__":
    main()
