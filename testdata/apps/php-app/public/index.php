<?php
// slimtrace fixture: a front controller for PHP's built-in server
// (php -S 0.0.0.0:8000 -t /app/public), which hands it every path that is
// not a file under public/.
//
// Routes:
//   /             HTML
//   /report       includes ../lib/Report.php inside the route
//   /invoice      uses Shop\Invoice, which composer's PSR-4 autoloader
//                 (vendor/autoload.php) loads from ../src at its first use
//   /api/status   JSON
//   /css/site.css a file under public/, served by the built-in server itself
//   /healthz      "ok"

require __DIR__ . '/../vendor/autoload.php';

use Shop\Invoice;

$path = parse_url($_SERVER['REQUEST_URI'], PHP_URL_PATH);

switch ($path) {
case '/':
case '/index.php':
    header('Content-Type: text/html; charset=utf-8');
    $version = PHP_VERSION;
    echo <<<HTML
<!doctype html>
<html>
<head><meta charset="utf-8"><title>slimtrace fixture: php-app</title>
<link rel="stylesheet" href="/css/site.css"></head>
<body>
<h1>php-app</h1>
<p>A slimtrace test fixture: PHP {$version}'s built-in server.</p>
<ul>
<li><a href="/report">report</a></li>
<li><a href="/api/status">status</a></li>
</ul>
</body>
</html>

HTML;
    break;

case '/report':
    // Included here on purpose: a tracer sees lib/Report.php read only when
    // this route is requested.
    include __DIR__ . '/../lib/Report.php';
    header('Content-Type: text/html; charset=utf-8');
    echo Report::render(['tea' => 3, 'coffee' => 5, 'cocoa' => 2]);
    break;

case '/invoice':
    header('Content-Type: text/html; charset=utf-8');
    echo Invoice::render(7, ['tea' => 3, 'cake' => 4]);
    break;

case '/api/status':
    header('Content-Type: application/json');
    echo json_encode(['app' => 'php-app', 'sapi' => PHP_SAPI, 'ok' => true]), "\n";
    break;

case '/healthz':
    header('Content-Type: text/plain');
    echo "ok\n";
    break;

default:
    http_response_code(404);
    header('Content-Type: text/plain');
    echo "not found\n";
}
