"use strict";

// Loaded lazily by GET /api/report.
const items = [
  { name: "tea", stock: 3 },
  { name: "coffee", stock: 5 },
  { name: "cocoa", stock: 2 },
];

exports.summary = () => ({
  report: "stock",
  items: items.length,
  total: items.reduce((n, i) => n + i.stock, 0),
});
