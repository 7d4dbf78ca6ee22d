<?php

/**
 * The conformance example: `php example/cli.php STEP...`, one JSON line per step
 * (sdk/conformance/README.md). Reads BASE_URL, PRODUCT_ID, SECRET_KEY, LICENSE_KEY, USE_ENCRYPTION,
 * PINNED_KEY_ID, PINNED_PUBLIC_KEY, HWID, HEARTBEAT_INTERVAL_MS and WAIT_MS from the environment.
 */

declare(strict_types=1);

require __DIR__ . '/../autoload.php';

use LicenseCM\LicenseCMClient;
use LicenseCM\LicenseCMException;

function emit(array $line): void
{
    echo json_encode($line, JSON_UNESCAPED_SLASHES), "\n";
    flush();
}

/** Session tokens are credentials: print only enough of their hash to see them change. */
function fingerprint(string $token): string
{
    return substr(hash('sha256', $token), 0, 12);
}

$env = static fn (string $name, ?string $otherwise = null): ?string => (getenv($name) === false || getenv($name) === '') ? $otherwise : getenv($name);
$intervalMs = (int) $env('HEARTBEAT_INTERVAL_MS', '0');
$licenseKey = (string) $env('LICENSE_KEY', '');
$expired = false;

$client = new LicenseCMClient((string) $env('BASE_URL', ''), (string) $env('PRODUCT_ID', ''), (string) $env('SECRET_KEY', ''));
$client->setUseEncryption($env('USE_ENCRYPTION') === '1')
    ->setAutoHeartbeat($intervalMs > 0)
    ->setHeartbeatInterval($intervalMs > 0 ? $intervalMs / 1000 : 300)
    ->setHwid($env('HWID'))
    ->setOnSessionExpired(function () use (&$expired): void {
        emit(['event' => 'session_expired']);
        $expired = true;
    })
    ->setOnSecurityViolation(fn (array $d) => emit(['event' => 'security_violation', 'source' => $d['source'], 'action' => $d['action']]));
if ($env('PINNED_KEY_ID') !== null) {
    $client->setPinnedKeyId($env('PINNED_KEY_ID'));
}
if ($env('PINNED_PUBLIC_KEY') !== null) {
    $client->setPinnedPublicKey($env('PINNED_PUBLIC_KEY'));
}

$steps = [
    'initialize' => function () use ($client): array {
        $key = $client->fetchPublicKey();
        return ['key_id' => $key['key_id'], 'algorithm' => $key['algorithm']];
    },
    'activate' => fn () => ['token' => fingerprint($client->activate($licenseKey)['session']['token'])],
    'validate' => fn () => ['watermark' => $client->validate($licenseKey)['watermark']],
    'heartbeat' => fn () => ['token' => fingerprint($client->heartbeat()['new_token'])],
    'challenge' => fn () => ['valid' => $client->challenge($licenseKey)['valid']],
    'deactivate' => fn () => ['deactivated' => $client->deactivate($licenseKey)['deactivated']],
    'hwid' => fn () => ['hwid' => LicenseCMClient::generateHwid()],
    'wait-expired' => function () use ($client, &$expired, $env): array {
        $deadline = microtime(true) + (int) $env('WAIT_MS', '10000') / 1000;
        while (!$expired && microtime(true) < $deadline) {
            usleep(20000);
            $client->tick(); // PHP has no threads: the heartbeat runs from here (and from SIGALRM)
        }
        if (!$expired) {
            throw new LicenseCMException('onSessionExpired was not called', 'TIMEOUT');
        }
        return [];
    },
];

foreach (array_slice($argv, 1) as $step) {
    if (!isset($steps[$step])) {
        emit(['step' => $step, 'ok' => false, 'code' => 'UNKNOWN_STEP']);
        continue;
    }
    try {
        emit(['step' => $step, 'ok' => true] + $steps[$step]());
    } catch (LicenseCMException $e) {
        emit(['step' => $step, 'ok' => false, 'code' => $e->getErrorCode(), 'status' => $e->getStatus() ?: null,
            'message' => $e->getMessage()]);
    }
}
$client->destroy();
