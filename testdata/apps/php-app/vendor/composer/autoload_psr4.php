<?php

// autoload_psr4.php (slimtrace fixture, in the format composer generates)

$vendorDir = dirname(__DIR__);
$baseDir = dirname($vendorDir);

return array(
    'Shop\\' => array($baseDir . '/src'),
);
