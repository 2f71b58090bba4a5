"""slimtrace fixture: a Flask app (Debian's python3-flask) with a static folder.

Routes:
  /                 index.html rendered from templates/ (read at the first request)
  /report           report.html, which extends layout.html: two more templates
  /api/items        JSON from an in-memory SQLite database; sqlite3 (and with it
                    _sqlite3 and libsqlite3) is imported inside the handler
  /static/...       css/site.css, js/app.js, img/logo.png, served only when asked
  /healthz          "ok", for the image's HEALTHCHECK
"""

import signal
import sys

from flask import Flask, jsonify, render_template

app = Flask(__name__)

ITEMS = [("tea", 3), ("coffee", 5), ("cocoa", 2)]


@app.get("/")
def index():
    return render_template("index.html", items=len(ITEMS))


@app.get("/report")
def report():
    return render_template("report.html", items=ITEMS)


@app.get("/api/items")
def api_items():
    # Imported here on purpose: a tracer sees sqlite3 load only when this
    # route is requested.
    import sqlite3

    db = sqlite3.connect(":memory:")
    try:
        db.execute("CREATE TABLE items (name TEXT, stock INTEGER)")
        db.executemany("INSERT INTO items VALUES (?, ?)", ITEMS)
        rows = db.execute("SELECT name, stock FROM items ORDER BY name").fetchall()
    finally:
        db.close()
    return jsonify(
        items=[{"name": n, "stock": s} for n, s in rows],
        total=sum(s for _, s in rows),
    )


@app.get("/healthz")
def healthz():
    return "ok\n", 200, {"Content-Type": "text/plain"}


# PID 1 in a container: exit on SIGTERM instead of ignoring it.
signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
