<?php
// A PSR-4 class loader (slimtrace fixture, in composer's namespace and
// layout): spl_autoload_register'd, it includes a class's file at the first
// use of the class.

namespace Composer\Autoload;

class ClassLoader
{
    private $prefixes = array();

    public function setPsr4($prefix, $paths)
    {
        $this->prefixes[$prefix] = (array) $paths;
    }

    public function register($prepend = false)
    {
        spl_autoload_register(array($this, 'loadClass'), true, $prepend);
    }

    public function loadClass($class)
    {
        foreach ($this->prefixes as $prefix => $dirs) {
            if (strpos($class, $prefix) !== 0) {
                continue;
            }
            $rel = str_replace('\\', '/', substr($class, strlen($prefix))) . '.php';
            foreach ($dirs as $dir) {
                if (is_file($dir . '/' . $rel)) {
                    include $dir . '/' . $rel;
                    return true;
                }
            }
        }
        return false;
    }
}
