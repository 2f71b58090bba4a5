<?php
// autoload_real.php (slimtrace fixture, in composer's layout)

class ComposerAutoloaderInitSlimtrace
{
    private static $loader;

    public static function getLoader()
    {
        if (null !== self::$loader) {
            return self::$loader;
        }
        require __DIR__ . '/ClassLoader.php';
        self::$loader = $loader = new \Composer\Autoload\ClassLoader();
        $map = require __DIR__ . '/autoload_psr4.php';
        foreach ($map as $prefix => $dirs) {
            $loader->setPsr4($prefix, $dirs);
        }
        $loader->register(true);

        return $loader;
    }
}
