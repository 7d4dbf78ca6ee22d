<?php

// For applications without Composer: require this file and use LicenseCM\LicenseCMClient.
spl_autoload_register(static function (string $class): void {
    if (strncmp($class, 'LicenseCM\\', 10) === 0) {
        $path = __DIR__ . '/src/' . substr($class, 10) . '.php';
        if (is_file($path)) {
            require $path;
        }
    }
});
