<?php
// A composer-style autoloader (slimtrace fixture): the layout and map format
// `composer dump-autoload` writes, written here by hand and reduced to PSR-4.
require_once __DIR__ . '/composer/autoload_real.php';

return ComposerAutoloaderInitSlimtrace::getLoader();
