<?php

declare(strict_types=1);

namespace LicenseCM;

/**
 * LicenseCM PHP SDK for KeyLedger: activate, validate, keep alive and deactivate a license.
 *
 * Every successful answer is verified before it is returned: its signature against the product's
 * public key (pinned, if you pin it), the key id, the nonce this call sent, the server time within
 * five minutes, and the product, license key and device it is about. Any failure calls the security
 * violation callback and throws LicenseCMException with code SECURITY_VIOLATION.
 */
class LicenseCMClient
{
    public const VERSION = '0.1.0';
    /** Heartbeat refusals after which the session cannot go on: the session-expired callback runs once. */
    public const SESSION_ENDING_CODES = ['SESSION_EXPIRED', 'LICENSE_SUSPENDED', 'LICENSE_EXPIRED', 'LICENSE_NOT_FOUND',
        'HWID_MISMATCH', 'PRODUCT_NOT_FOUND', 'BLACKLISTED', 'SECURITY_VIOLATION'];
    private const HEARTBEAT_RETRY_SECONDS = 30.0;
    private const MAX_ANSWER_BYTES = 1000000;

    private string $apiUrl;
    private string $productId;
    private string $secretKey;
    private bool $useEncryption = false;
    private bool $autoHeartbeat = true;
    private float $heartbeatInterval = 300.0;
    private int $maxClockSkewMs = Protocol::MAX_SKEW_MS;
    private float $timeout = 10.0;
    private ?string $hwid = null;
    private ?string $pinnedPem = null;
    private ?string $pinnedKeyId = null;
    /** @var callable|null */
    private $onSessionExpired = null;
    /** @var callable|null */
    private $onSecurityViolation = null;
    /** @var callable|null */
    private $onHeartbeatFailed = null;

    private ?string $publicKeyPem = null;
    private ?string $publicKeyId = null;
    private ?string $licenseKey = null;
    private ?string $sessionHwid = null;
    private ?string $sessionToken = null;
    private ?string $sessionExpires = null;
    private bool $sessionEndReported = false;
    private ?float $nextHeartbeatAt = null;
    private bool $inHeartbeat = false;

    /** @param string $baseUrl the server, with or without the trailing /api */
    public function __construct(string $baseUrl, string $productId, string $secretKey = '')
    {
        $url = rtrim(trim($baseUrl), '/');
        if (!preg_match('#^https?://#i', $url)) {
            throw new \InvalidArgumentException('baseUrl must be an http(s) URL');
        }
        $this->apiUrl = substr($url, -4) === '/api' ? $url : $url . '/api';
        $this->productId = $productId;
        $this->secretKey = $secretKey;
    }

    // --- options (the published SDK's fluent setters, and the pins) --------------------------------

    public function setUseEncryption(bool $value): self
    {
        if ($value && $this->secretKey === '') {
            throw new \InvalidArgumentException('encryption needs the secret key');
        }
        $this->useEncryption = $value;
        return $this;
    }

    public function setAutoHeartbeat(bool $value): self
    {
        $this->autoHeartbeat = $value;
        return $this;
    }

    /** Seconds between heartbeats (fractions allowed). */
    public function setHeartbeatInterval(float $seconds): self
    {
        if ($seconds <= 0) {
            throw new \InvalidArgumentException('the heartbeat interval must be positive (seconds)');
        }
        $this->heartbeatInterval = $seconds;
        return $this;
    }

    public function setOnSessionExpired(callable $callback): self
    {
        $this->onSessionExpired = $callback;
        return $this;
    }

    public function setOnSecurityViolation(callable $callback): self
    {
        $this->onSecurityViolation = $callback;
        return $this;
    }

    public function setOnHeartbeatFailed(callable $callback): self
    {
        $this->onHeartbeatFailed = $callback;
        return $this;
    }

    /** Pins the server's key by its PEM (strongly recommended). */
    public function setPinnedPublicKey(string $pem): self
    {
        $id = Protocol::keyId($pem);
        if ($this->pinnedKeyId !== null && $this->pinnedKeyId !== $id) {
            throw new \InvalidArgumentException('the pinned key id does not belong to the pinned key');
        }
        [$this->pinnedPem, $this->pinnedKeyId] = [$pem, $id];
        return $this;
    }

    /** Pins the server's key by its id (16 hex). */
    public function setPinnedKeyId(string $keyId): self
    {
        $this->pinnedKeyId = strtolower($keyId);
        return $this;
    }

    /** This device's id; generateHwid() when not set. */
    public function setHwid(?string $hwid): self
    {
        $this->hwid = $hwid === '' ? null : $hwid;
        return $this;
    }

    public function setMaxClockSkew(int $ms): self
    {
        $this->maxClockSkewMs = $ms;
        return $this;
    }

    public function setTimeout(float $seconds): self
    {
        $this->timeout = $seconds;
        return $this;
    }

    /** This machine's HWID (see README: the OS machine id, hashed). */
    public static function generateHwid(): string
    {
        return Hwid::get();
    }

    // --- the API ---------------------------------------------------------------------------------

    /** Fetches the product's public key and checks it against the pin; returns key_id, algorithm, public_key. */
    public function fetchPublicKey(): array
    {
        $answer = $this->exchange('public-key', 'GET', '/client/public-key?product_id=' . rawurlencode($this->productId), null);
        $data = $answer->data ?? null;
        if (!($data instanceof \stdClass) || !is_string($data->public_key ?? null)) {
            throw new LicenseCMException('The public key answer has no key', 'INVALID_RESPONSE');
        }
        try {
            $fetchedId = Protocol::keyId($data->public_key);
        } catch (\InvalidArgumentException $e) {
            throw $this->violation('public-key', 'unusable public key: ' . $e->getMessage());
        }
        if (($data->key_id ?? null) !== $fetchedId) {
            throw $this->violation('public-key', 'the served key_id does not match the served key');
        }
        if ($this->pinnedKeyId !== null && $this->pinnedKeyId !== $fetchedId) {
            throw $this->violation('public-key', "the server's public key is not the pinned key");
        }
        $this->publicKeyPem = $this->pinnedPem ?? $data->public_key;
        $this->publicKeyId = $fetchedId;
        return ['key_id' => $fetchedId, 'algorithm' => $data->algorithm ?? null, 'public_key' => $data->public_key];
    }

    /** fetchPublicKey(); the first request calls it when you have not. */
    public function initialize(): bool
    {
        $this->fetchPublicKey();
        return true;
    }

    /** Binds this device to the license, opens a session and schedules the heartbeat. */
    public function activate(string $licenseKey, ?string $hwid = null): array
    {
        $device = $this->device($hwid);
        $data = $this->signedCall('activate', ['license_key' => $licenseKey, 'hwid' => $device,
            'client_data' => $this->clientData()]);
        if (($data->activated ?? null) !== true || !is_string($data->session->token ?? null)) {
            throw new LicenseCMException('The activation answer has no session', 'INVALID_RESPONSE');
        }
        $this->licenseKey = $licenseKey;
        $this->sessionHwid = $device;
        $this->sessionToken = $data->session->token;
        $this->sessionExpires = $data->session->expires_at ?? null;
        $this->sessionEndReported = false;
        if ($this->autoHeartbeat) {
            $this->startHeartbeat();
        }
        return self::toArray($data);
    }

    /** Checks the license on this device (null: the activated key and device). */
    public function validate(?string $licenseKey = null, ?string $hwid = null): array
    {
        $data = $this->signedCall('validate', ['license_key' => $this->keyOrActivated($licenseKey),
            'hwid' => $this->device($hwid), 'client_data' => $this->clientData()]);
        if (($data->valid ?? null) !== true) {
            throw new LicenseCMException('The license is not valid', 'INVALID_RESPONSE');
        }
        return self::toArray($data);
    }

    /**
     * Keeps the session alive and stores the rotated token. The arguments exist for the published SDK's
     * signature: pass nothing. A session-ending refusal clears the session and runs the callback once.
     */
    public function heartbeat(?string $licenseKey = null, ?string $hwid = null): array
    {
        $token = $this->sessionToken;
        if ($token === null || $this->licenseKey === null || ($licenseKey !== null && $licenseKey !== $this->licenseKey)) {
            throw new LicenseCMException('No active session: call activate() first', 'NOT_ACTIVATED');
        }
        $this->inHeartbeat = true;
        try {
            $data = $this->signedCall('heartbeat', ['license_key' => $this->licenseKey, 'hwid' => $this->sessionHwid,
                'session_token' => $token]);
        } catch (LicenseCMException $e) {
            if (in_array($e->getErrorCode(), self::SESSION_ENDING_CODES, true)) {
                $this->endSession();
            }
            throw $e;
        } finally {
            $this->inHeartbeat = false;
        }
        if (($data->valid ?? null) !== true || !is_string($data->new_token ?? null) || $data->new_token === '') {
            throw new LicenseCMException('The heartbeat answer has no new token', 'INVALID_RESPONSE');
        }
        $this->sessionToken = $data->new_token;
        $this->sessionExpires = $data->expires_at ?? $this->sessionExpires;
        return self::toArray($data);
    }

    /** Frees this device's seat and ends the session (null: the activated key and device). */
    public function deactivate(?string $licenseKey = null, ?string $hwid = null): array
    {
        $key = $this->keyOrActivated($licenseKey);
        $data = $this->signedCall('deactivate', ['license_key' => $key, 'hwid' => $this->device($hwid)]);
        if (($data->deactivated ?? null) !== true) {
            throw new LicenseCMException('The deactivation answer is not a deactivation', 'INVALID_RESPONSE');
        }
        if ($key === $this->licenseKey) {
            $this->sessionToken = null;
            $this->sessionExpires = null;
            $this->sessionEndReported = true;
            $this->stopHeartbeat();
        }
        return self::toArray($data);
    }

    /** Validates by challenge-response, proving this client holds the product secret. */
    public function challenge(?string $licenseKey = null): array
    {
        if ($this->secretKey === '') {
            throw new \LogicException('challenge() needs the secret key');
        }
        $key = $this->keyOrActivated($licenseKey);
        $device = $this->device(null);
        $this->ensureInitialized();
        $issued = $this->exchange('challenge', 'POST', '/client/challenge',
            ['license_key' => $key, 'hwid' => $device, 'product_id' => $this->productId]);
        $challenge = $issued->data->challenge ?? null;
        if (!is_string($challenge)) {
            throw new LicenseCMException('The challenge answer has no challenge', 'INVALID_RESPONSE');
        }
        $data = $this->signedCall('challenge', ['license_key' => $key, 'hwid' => $device, 'challenge' => $challenge,
            'response' => Protocol::challengeResponse($this->secretKey, $challenge, $key, $device)]);
        if (($data->valid ?? null) !== true) {
            throw new LicenseCMException('The license is not valid', 'INVALID_RESPONSE');
        }
        return self::toArray($data);
    }

    /**
     * Schedules the automatic heartbeat. PHP has no threads: on the CLI with pcntl the SDK takes SIGALRM
     * (whole seconds, at least one) and beats from the signal handler; elsewhere call tick() from your loop.
     */
    public function startHeartbeat(): void
    {
        $this->nextHeartbeatAt = microtime(true) + $this->heartbeatInterval;
        if (function_exists('pcntl_async_signals') && PHP_SAPI === 'cli') {
            pcntl_async_signals(true);
            pcntl_signal(SIGALRM, function (): void {
                $this->tick();
            });
            $this->armAlarm();
        }
    }

    public function stopHeartbeat(): void
    {
        $this->nextHeartbeatAt = null;
        if (function_exists('pcntl_alarm') && PHP_SAPI === 'cli') {
            pcntl_alarm(0);
        }
    }

    public function isHeartbeatRunning(): bool
    {
        return $this->nextHeartbeatAt !== null;
    }

    /** Runs the heartbeat when it is due; safe to call as often as you like. */
    public function tick(): void
    {
        if ($this->nextHeartbeatAt === null || $this->inHeartbeat || microtime(true) < $this->nextHeartbeatAt) {
            $this->armAlarm();
            return;
        }
        $delay = $this->heartbeatInterval;
        try {
            $this->heartbeat();
        } catch (LicenseCMException $e) {
            if (in_array($e->getErrorCode(), self::SESSION_ENDING_CODES, true) || $e->getErrorCode() === 'NOT_ACTIVATED') {
                $this->stopHeartbeat();
                return;
            }
            if ($this->onHeartbeatFailed !== null) {
                self::safely($this->onHeartbeatFailed, $e);
            }
            $delay = min($this->heartbeatInterval, self::HEARTBEAT_RETRY_SECONDS);
        }
        if ($this->nextHeartbeatAt !== null) {
            $this->nextHeartbeatAt = microtime(true) + $delay;
            $this->armAlarm();
        }
    }

    public function getSessionToken(): ?string
    {
        return $this->sessionToken;
    }

    public function isSessionValid(): bool
    {
        if ($this->sessionToken === null) {
            return false;
        }
        $expires = Protocol::parseTimeMs($this->sessionExpires);
        return $expires === null || $expires > microtime(true) * 1000;
    }

    public function getSessionInfo(): array
    {
        return ['token' => $this->sessionToken, 'expires' => $this->sessionExpires, 'is_valid' => $this->isSessionValid(),
            'license_key' => $this->licenseKey, 'hwid' => $this->sessionHwid];
    }

    /** Stops the heartbeat. The seat stays taken: call deactivate() to free it. */
    public function destroy(): void
    {
        $this->stopHeartbeat();
    }

    // --- requests and checks ---------------------------------------------------------------------

    private function armAlarm(): void
    {
        if ($this->nextHeartbeatAt !== null && function_exists('pcntl_alarm') && PHP_SAPI === 'cli') {
            pcntl_alarm(max(1, (int) ceil($this->nextHeartbeatAt - microtime(true))));
        }
    }

    private function endSession(): void
    {
        $this->sessionToken = null;
        $this->sessionExpires = null;
        $this->stopHeartbeat();
        if (!$this->sessionEndReported) {
            $this->sessionEndReported = true;
            if ($this->onSessionExpired !== null) {
                self::safely($this->onSessionExpired);
            }
        }
    }

    private function ensureInitialized(): void
    {
        if ($this->publicKeyPem === null) {
            $this->initialize();
        }
    }

    private function signedCall(string $action, array $fields): \stdClass
    {
        $this->ensureInitialized();
        $nonce = bin2hex(random_bytes(16));
        $body = $fields + ['product_id' => $this->productId, 'nonce' => $nonce];
        $answer = $this->exchange($action, 'POST', "/client/{$action}", $body);
        $data = $answer->data ?? null;
        $reason = Protocol::checkAnswer((string) $this->publicKeyPem, (string) $this->publicKeyId, $data, $nonce,
            (int) floor(microtime(true) * 1000), $this->maxClockSkewMs, $body);
        if ($reason !== null) {
            throw $this->violation($action, $reason);
        }
        return $data;
    }

    private function exchange(string $action, string $method, string $path, ?array $body): \stdClass
    {
        $sealed = $this->useEncryption && $body !== null;
        $payload = null;
        if ($body !== null) {
            $payload = json_encode($body, JSON_UNESCAPED_SLASHES | JSON_UNESCAPED_UNICODE | JSON_THROW_ON_ERROR);
            if ($sealed) {
                $payload = json_encode(Protocol::sealBytes($this->secretKey, $this->productId, $payload), JSON_THROW_ON_ERROR);
            }
        }
        [$status, $raw] = $this->send($method, $this->apiUrl . $path, $payload, $action);
        $answer = json_decode($raw, false, 512);
        if ($answer === null && json_last_error() !== JSON_ERROR_NONE) {
            throw new LicenseCMException("The license server's answer is not JSON (HTTP {$status})", 'INVALID_RESPONSE', $status);
        }
        if ($sealed) {
            $answer = $this->open($action, $answer);
        }
        if (!($answer instanceof \stdClass)) {
            throw new LicenseCMException("Unexpected answer (HTTP {$status})", 'INVALID_RESPONSE', $status);
        }
        if (($answer->success ?? null) !== true) {
            throw $this->refused($action, $status, $answer);
        }
        return $answer;
    }

    /** @return array{0: int, 1: string} */
    private function send(string $method, string $url, ?string $payload, string $action): array
    {
        $headers = ['Accept: application/json', 'User-Agent: licensecm-php/' . self::VERSION];
        if ($payload !== null) {
            $headers[] = 'Content-Type: application/json';
        }
        if (function_exists('curl_init')) {
            $curl = curl_init($url);
            curl_setopt_array($curl, [CURLOPT_CUSTOMREQUEST => $method, CURLOPT_RETURNTRANSFER => true,
                CURLOPT_HTTPHEADER => $headers, CURLOPT_TIMEOUT_MS => (int) ($this->timeout * 1000),
                CURLOPT_CONNECTTIMEOUT_MS => (int) ($this->timeout * 1000), CURLOPT_FOLLOWLOCATION => false]);
            if ($payload !== null) {
                curl_setopt($curl, CURLOPT_POSTFIELDS, $payload);
            }
            $raw = curl_exec($curl);
            $status = (int) curl_getinfo($curl, CURLINFO_RESPONSE_CODE);
            $error = curl_error($curl);
            curl_close($curl);
        } else {
            $context = stream_context_create(['http' => ['method' => $method, 'header' => implode("\r\n", $headers),
                'content' => $payload ?? '', 'timeout' => $this->timeout, 'ignore_errors' => true]]);
            $raw = @file_get_contents($url, false, $context);
            $status = isset($http_response_header[0]) && preg_match('/\s(\d{3})\s?/', $http_response_header[0], $m) ? (int) $m[1] : 0;
            $error = $raw === false ? 'no answer' : '';
        }
        if ($raw === false || $status === 0) {
            throw new LicenseCMException("No answer from the license server: {$error}", 'NETWORK_ERROR', 0, ['action' => $action]);
        }
        if (strlen($raw) > self::MAX_ANSWER_BYTES) {
            throw new LicenseCMException('The answer is too large', 'INVALID_RESPONSE', $status);
        }
        return [$status, $raw];
    }

    private function open(string $action, $answer)
    {
        if ($answer instanceof \stdClass && ($answer->encrypted ?? null) === true) {
            if (strtolower((string) ($answer->product_id ?? '')) !== strtolower($this->productId)) {
                throw $this->violation($action, 'the encrypted answer is for another product');
            }
            try {
                return Protocol::openEnvelope($this->secretKey, $answer, null, $this->maxClockSkewMs);
            } catch (EnvelopeException $e) {
                throw $this->violation($action, 'the encrypted answer failed its checks: ' . $e->getMessage());
            }
        }
        // The server answers a refused envelope in plain JSON (it cannot know whether the sender holds
        // the secret). A refusal grants nothing, so it is safe to read; a plain success is a downgrade.
        if ($answer instanceof \stdClass && ($answer->success ?? null) === false) {
            return $answer;
        }
        throw $this->violation($action, 'an encrypted request got an unencrypted answer');
    }

    private function refused(string $action, int $status, \stdClass $answer): LicenseCMException
    {
        $code = is_string($answer->error_code ?? null) ? $answer->error_code : 'HTTP_ERROR';
        $message = is_string($answer->message ?? null) ? $answer->message : "HTTP {$status}";
        if ($code === 'SECURITY_VIOLATION' || ($answer->security_blocked ?? false) === true) {
            $details = ['source' => 'server', 'action' => $action, 'reason' => $message, 'code' => $code, 'status' => $status];
            if (isset($answer->security_details)) {
                $details['security_details'] = self::toArray($answer->security_details);
            }
            $this->report($details);
        }
        return new LicenseCMException($message, $code, $status, self::toArray($answer) + ['action' => $action]);
    }

    private function violation(string $action, string $reason): LicenseCMException
    {
        $details = ['source' => 'client', 'action' => $action, 'reason' => $reason];
        $this->report($details);
        return new LicenseCMException("Security violation: {$reason}", 'SECURITY_VIOLATION', 0, $details);
    }

    private function report(array $details): void
    {
        if ($this->onSecurityViolation !== null) {
            self::safely($this->onSecurityViolation, $details);
        }
    }

    private static function safely(callable $callback, ...$arguments): void
    {
        try {
            $callback(...$arguments);
        } catch (\Throwable $e) {
            // a callback's own failure must not hide what happened
        }
    }

    private function keyOrActivated(?string $licenseKey): string
    {
        $key = $licenseKey ?: $this->licenseKey;
        if ($key === null || $key === '') {
            throw new LicenseCMException('No license key: pass one or call activate() first', 'NOT_ACTIVATED');
        }
        return $key;
    }

    private function device(?string $hwid): string
    {
        return $hwid ?: ($this->sessionHwid ?? $this->hwid ?? Hwid::get());
    }

    private function clientData(): array
    {
        return ['platform' => substr(PHP_OS_FAMILY, 0, 100), 'os_version' => substr(php_uname('r'), 0, 100),
            'vm_indicators' => [], 'debug_indicators' => []];
    }

    /** The verified data as nested arrays, as the published SDK returned it. */
    private static function toArray($value)
    {
        return json_decode(json_encode($value, JSON_THROW_ON_ERROR), true);
    }
}
