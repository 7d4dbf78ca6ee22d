<?php

declare(strict_types=1);

namespace LicenseCM;

/**
 * A hardware id that is the same in every process and every KeyLedger SDK on one machine: SHA-256 of
 * the OS machine id (Linux /etc/machine-id, Windows MachineGuid, macOS IOPlatformUUID), else of the
 * host name, the first real MAC address and the architecture.
 */
final class Hwid
{
    private const PREFIX = 'licensecm-hwid:v1:';
    private static ?string $cached = null;

    /** 64 hex characters, computed once per process. */
    public static function get(): string
    {
        if (self::$cached === null) {
            $id = self::machineId();
            self::$cached = $id !== null ? self::fromMachineId($id)
                : self::hash('host', (string) gethostname(), self::firstMac(), php_uname('m'));
        }
        return self::$cached;
    }

    /** The HWID every KeyLedger SDK derives from one OS machine id. */
    public static function fromMachineId(string $machineId): string
    {
        return self::hash('machine-id', strtolower(trim($machineId)));
    }

    private static function hash(string ...$parts): string
    {
        return hash('sha256', self::PREFIX . implode('|', $parts));
    }

    private static function machineId(): ?string
    {
        $value = null;
        if (PHP_OS_FAMILY === 'Windows') {
            $output = (string) @shell_exec('reg query "HKLM\SOFTWARE\Microsoft\Cryptography" /v MachineGuid /reg:64 2>NUL');
            $value = preg_match('/MachineGuid\s+REG_SZ\s+(\S+)/', $output, $m) ? $m[1] : null;
        } elseif (PHP_OS_FAMILY === 'Darwin') {
            $output = (string) @shell_exec('ioreg -rd1 -c IOPlatformExpertDevice 2>/dev/null');
            $value = preg_match('/"IOPlatformUUID"\s*=\s*"([^"]+)"/', $output, $m) ? $m[1] : null;
        } else {
            foreach (['/etc/machine-id', '/var/lib/dbus/machine-id'] as $path) {
                $text = is_readable($path) ? trim((string) @file_get_contents($path)) : '';
                if ($text !== '') {
                    $value = $text;
                    break;
                }
            }
        }
        if ($value === null || trim(str_replace(['0', '-'], '', $value)) === '') {
            return null; // none, or an all-zero placeholder
        }
        return $value;
    }

    private static function firstMac(): string
    {
        foreach (glob('/sys/class/net/*/address') ?: [] as $path) {
            $mac = trim((string) @file_get_contents($path));
            if (basename(dirname($path)) !== 'lo' && $mac !== '' && $mac !== '00:00:00:00:00:00') {
                return str_replace(':', '', $mac);
            }
        }
        return '';
    }
}
