<?php

// A stand-in for KeyLedger's client API (PHP's built-in server router), signing with the documented
// Ed25519 test key. State lives in the file named by FAKE_STATE. The real server is driven by
// sdk/conformance/scenario.py.

declare(strict_types=1);

require __DIR__ . '/../autoload.php';

use LicenseCM\Protocol;

const SECRET = 'sk_live_test_secret';
const PRODUCT = '3f2b8c1e-9a4d-4e6f-8b7a-1c2d3e4f5a6b';
const PUBLIC_PEM = "-----BEGIN PUBLIC KEY-----\nMCowBQYDK2VwAyEAA6EHv/POEL4dcN0Y50vAmWfk1jCbpQ1fHdyGZBJVMbg=\n-----END PUBLIC KEY-----\n";

$statePath = getenv('FAKE_STATE');
$state = json_decode((string) @file_get_contents($statePath), true) ?: ['tokens' => [], 'posts' => 0, 'suspended' => false,
    'tamper' => null];
$send = static function (int $status, array $answer): void {
    http_response_code($status);
    header('Content-Type: application/json');
    echo json_encode($answer, JSON_UNESCAPED_SLASHES);
};

$body = json_decode((string) file_get_contents('php://input'), false) ?? new stdClass();
$sealed = false;
if (($body->encrypted ?? null) === true) {
    try {
        $body = Protocol::openEnvelope(SECRET, $body);
        $sealed = true;
    } catch (Exception $e) {
        $send(403, ['success' => false, 'message' => $e->getMessage(), 'error_code' => 'SECURITY_VIOLATION']);
        return true;
    }
}
$path = parse_url($_SERVER['REQUEST_URI'], PHP_URL_PATH);
$refuse = static fn (int $status, string $code): array => [$status, ['success' => false, 'message' => $code, 'error_code' => $code]];
$newToken = static function () use (&$state): string {
    $token = bin2hex(random_bytes(8));
    $state['tokens'][$token] = true;
    return $token;
};

if ($path === '/api/client/public-key') {
    [$status, $answer] = [200, ['success' => true, 'data' => ['public_key' => PUBLIC_PEM, 'key_id' => Protocol::keyId(PUBLIC_PEM),
        'algorithm' => 'ed25519']]];
} else {
    $state['posts']++;
    $data = null;
    if (($body->license_key ?? null) !== 'GOOD-KEY') {
        [$status, $answer] = $refuse(404, 'LICENSE_NOT_FOUND');
    } elseif ($state['suspended']) {
        [$status, $answer] = $refuse(403, 'LICENSE_SUSPENDED');
    } elseif ($path === '/api/client/activate') {
        $data = ['activated' => true, 'session' => ['token' => $newToken(), 'expires_at' => '2999-01-01T00:00:00.000000Z']];
    } elseif ($path === '/api/client/validate') {
        $data = ['valid' => true, 'watermark' => str_repeat('0', 32)];
    } elseif ($path === '/api/client/deactivate') {
        $data = ['deactivated' => true, 'current_uses' => 0];
    } elseif ($path === '/api/client/heartbeat' && isset($state['tokens'][$body->session_token ?? ''])) {
        unset($state['tokens'][$body->session_token]);
        $data = ['valid' => true, 'new_token' => $newToken(), 'expires_at' => '2999-01-01T00:00:00.000000Z'];
    } else {
        [$status, $answer] = $refuse(401, 'SESSION_EXPIRED');
    }
    if ($data !== null) {
        $data += ['timestamp' => gmdate('Y-m-d\TH:i:s') . '.000000Z', 'key_id' => Protocol::keyId(PUBLIC_PEM),
            'product_id' => PRODUCT, 'license_key' => $body->license_key, 'hwid' => $body->hwid, 'nonce' => $body->nonce];
        $keypair = sodium_crypto_sign_seed_keypair(implode('', array_map('chr', range(0, 31))));
        $data['signature'] = base64_encode(sodium_crypto_sign_detached(Protocol::answerMessage((object) $data),
            sodium_crypto_sign_secretkey($keypair)));
        if ($state['tamper'] === 'change') {
            $data['watermark'] = str_repeat('f', 32);
        } elseif ($state['tamper'] === 'unsigned') {
            unset($data['signature']);
        }
        [$status, $answer] = [200, ['success' => true, 'data' => $data]];
    }
}
file_put_contents($statePath, json_encode($state));
$send($status, $sealed ? Protocol::sealBytes(SECRET, PRODUCT, json_encode($answer)) : $answer);
return true;
