"""slimtrace test fixture: a small stdlib-only web app.

Routes:
  /              HTML page linking to /api/info and the stylesheet
  /api/info      JSON; imports json and decimal lazily, so those modules are
                 loaded only when this route is requested
  /api/dyn       JSON; loads json with importlib.import_module, by a literal
                 name, only when this route is requested
  /static/...    files from /app/static/
  /healthz       plain "ok"
"""

import http.server
import importlib
import os
import signal
import sys

STATIC_DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)), "static")
PORT = int(os.environ.get("PORT", "8000"))

INDEX = b"""<!doctype html>
<html>
<head><meta charset="utf-8"><title>slimtrace fixture: python-app</title>
<link rel="stylesheet" href="/static/app.css"></head>
<body>
<h1>python-app</h1>
<p>A slimtrace test fixture served by Python's http.server.</p>
<p><a href="/api/info">API info</a></p>
</body>
</html>
"""

CONTENT_TYPES = {".css": "text/css", ".html": "text/html", ".txt": "text/plain"}


class Handler(http.server.BaseHTTPRequestHandler):
    server_version = "slimtrace-python-app/1"

    def do_GET(self):
        path = self.path.split("?", 1)[0]
        if path == "/":
            self.reply(200, "text/html; charset=utf-8", INDEX)
        elif path == "/healthz":
            self.reply(200, "text/plain", b"ok\n")
        elif path == "/api/info":
            self.api_info()
        elif path == "/api/dyn":
            self.api_dyn()
        elif path.startswith("/static/"):
            self.static(path[len("/static/"):])
        else:
            self.reply(404, "text/plain", b"not found\n")

    def api_info(self):
        # Imported here on purpose: a tracer only sees these modules load when
        # this route is requested.
        import decimal
        import json

        body = json.dumps(
            {
                "app": "python-app",
                "python": sys.version.split()[0],
                "price": str(decimal.Decimal("19.99") * 3),
            }
        ).encode()
        self.reply(200, "application/json", body)

    def api_dyn(self):
        # Loaded by name, not by an import statement: the module is found only
        # by reading the call's literal argument.
        codec = importlib.import_module("json")
        body = codec.dumps({"loaded": codec.__name__, "items": [1, 2, 3]}).encode()
        self.reply(200, "application/json", body)

    def static(self, name):
        full = os.path.realpath(os.path.join(STATIC_DIR, name))
        if not full.startswith(STATIC_DIR + os.sep) or not os.path.isfile(full):
            self.reply(404, "text/plain", b"not found\n")
            return
        with open(full, "rb") as f:
            body = f.read()
        ctype = CONTENT_TYPES.get(os.path.splitext(full)[1], "application/octet-stream")
        self.reply(200, ctype, body)

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
    print("listening on :%d" % PORT, file=sys.stderr, flush=True)
    try:
        server.serve_forever()
    except (KeyboardInterrupt, SystemExit):
        pass


if __name__ == "__main__":
    main()
