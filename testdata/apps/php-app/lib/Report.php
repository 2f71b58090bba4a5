<?php
// Included lazily by the /report route.

final class Report
{
    public static function render(array $stock): string
    {
        $rows = '';
        foreach ($stock as $name => $n) {
            $rows .= sprintf("<tr><td>%s</td><td>%d</td></tr>\n", htmlspecialchars($name), $n);
        }
        return "<!doctype html>\n<html><head><meta charset=\"utf-8\"><title>php-app: report</title></head>\n"
            . "<body><h1>Stock report</h1>\n<table>\n{$rows}</table>\n"
            . sprintf("<p>total %d</p></body></html>\n", array_sum($stock));
    }
}
