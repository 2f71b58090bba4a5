// slimtrace fixture: an Express app on Debian's nodejs.
//
// Routes:
//   GET  /            HTML linking to the others
//   POST /api/echo    JSON, urlencoded or text bodies, echoed back as JSON. The
//                     body parsers hand the charset to iconv-lite, which loads
//                     its encodings at the first body it decodes, and tables
//                     such as Shift_JIS's only when a body in them arrives.
//   GET  /api/report  requires ./lib/report on its first request
//   GET  /api/gzip    requires zlib on its first request: deflates a text and
//                     inflates it back
//   GET  /receipt     renders views/receipt.ejs: Express requires the engine
//                     registered by name (app.set("view engine", "ejs")) at
//                     the first render, and ejs its own modules then
//   GET  /invoice     renders views/invoice.hbs through consolidate's engine
//                     map (app.engine("hbs", cons.handlebars)): consolidate
//                     requires handlebars at the first render
//   GET  /static/...  files from public/, served only when asked
//   GET  /healthz     "ok"
"use strict";

const path = require("path");
const express = require("express");
const cons = require("consolidate");

const port = Number(process.env.PORT || 3000);
const app = express();
app.set("view engine", "ejs");
app.set("views", path.join(__dirname, "views"));
app.engine("hbs", cons.handlebars);

app.use((req, res, next) => {
  console.log(`${req.method} ${req.originalUrl}`);
  next();
});

app.get("/", (req, res) => {
  res.type("html").send(`<!doctype html>
<html>
<head><meta charset="utf-8"><title>slimtrace fixture: express</title>
<link rel="stylesheet" href="/static/app.css"></head>
<body>
<h1>express</h1>
<p>A slimtrace test fixture: Express ${require("express/package.json").version} on Node.js ${process.version}.</p>
<p><a href="/api/report">report</a></p>
</body>
</html>
`);
});

app.post(
  "/api/echo",
  express.json(),
  express.urlencoded({ extended: false }),
  express.text({ type: "text/*" }),
  (req, res) => {
    res.json({ type: req.get("content-type") || "", body: req.body });
  },
);

app.get("/api/report", (req, res) => {
  // Required here on purpose: a tracer sees lib/report.js load only when
  // this route is requested.
  const report = require("./lib/report");
  res.json(report.summary());
});

app.get("/api/gzip", (req, res) => {
  // Required here on purpose, like ./lib/report above.
  const zlib = require("zlib");
  const text = "slimtrace ".repeat(20);
  const packed = zlib.deflateSync(text);
  res.json({ bytes: text.length, roundtrip: zlib.inflateSync(packed).toString() === text });
});

app.get("/receipt", (req, res) => {
  res.render("receipt", { item: String(req.query.item || "none"), qty: 2 });
});

app.get("/invoice", (req, res) => {
  res.render("invoice.hbs", { number: 7, lines: ["tea", "cake"] });
});

app.use("/static", express.static(path.join(__dirname, "public")));

app.get("/healthz", (req, res) => res.type("text").send("ok\n"));

const server = app.listen(port, "0.0.0.0", () => {
  console.log(`express listening on ${port}`);
});

// PID 1 in a container: stop on SIGTERM instead of ignoring it.
process.on("SIGTERM", () => server.close(() => process.exit(0)));
