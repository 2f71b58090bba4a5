<?php
// Loaded by the PSR-4 autoloader at the first use of Shop\Invoice, which
// only /invoice makes.

namespace Shop;

final class Invoice
{
    public static function render(int $number, array $lines): string
    {
        return sprintf("<p>invoice %d: %d lines, total %d</p>\n", $number, count($lines), array_sum($lines));
    }
}
