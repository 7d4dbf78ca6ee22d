<?php

declare(strict_types=1);

namespace LicenseCM;

/**
 * The wire protocol with no network in it: canonical JSON, keys and key ids, answer signatures, the
 * envelope, challenge-response. Checked against sdk/conformance/vectors (made by KeyLedger's own code).
 * JSON objects are handled as stdClass (json_decode($text, false)) so that {} and [] stay apart.
 */
final class Protocol
{
    public const IV_BYTES = 16;
    public const TAG_BYTES = 16;
    public const MAX_SKEW_MS = 300000;
    /** Request fields a signed answer repeats; each must be there and equal what was sent. */
    public const BOUND_FIELDS = ['product_id', 'license_key', 'hwid'];
    private const ED25519_SPKI_PREFIX = '302a300506032b6570032100';

    // --- canonical JSON (RFC 8785) ---------------------------------------------------------------

    /** RFC 8785 text: keys sorted by UTF-16 code units, no whitespace, numbers as JavaScript writes them. */
    public static function canonicalJson($value): string
    {
        if ($value === null) {
            return 'null';
        }
        if (is_bool($value)) {
            return $value ? 'true' : 'false';
        }
        if (is_int($value)) {
            return (string) $value;
        }
        if (is_float($value)) {
            return self::ecmaNumber($value);
        }
        if (is_string($value)) {
            return self::jsonString($value);
        }
        if (is_array($value) && array_is_list($value)) {
            return '[' . implode(',', array_map([self::class, 'canonicalJson'], $value)) . ']';
        }
        if (is_array($value) || $value instanceof \stdClass) {
            $members = (array) $value;
            $keys = array_map('strval', array_keys($members));
            usort($keys, static fn (string $a, string $b): int => strcmp(self::utf16($a), self::utf16($b)));
            $parts = [];
            foreach ($keys as $key) {
                $parts[] = self::jsonString($key) . ':' . self::canonicalJson($members[$key]);
            }
            return '{' . implode(',', $parts) . '}';
        }
        throw new \InvalidArgumentException(gettype($value) . ' is not a JSON value');
    }

    private static function utf16(string $text): string
    {
        $units = function_exists('iconv') ? @iconv('UTF-8', 'UTF-16BE', $text) : false;
        if ($units === false && function_exists('mb_convert_encoding')) {
            $units = mb_convert_encoding($text, 'UTF-16BE', 'UTF-8');
        }
        return $units === false ? $text : $units;
    }

    private static function jsonString(string $text): string
    {
        $escapes = ['"' => '\\"', '\\' => '\\\\', "\x08" => '\\b', "\x0c" => '\\f', "\n" => '\\n', "\r" => '\\r', "\t" => '\\t'];
        $out = '"';
        $length = strlen($text);
        for ($i = 0; $i < $length; $i++) {
            $byte = $text[$i];
            if (isset($escapes[$byte])) {
                $out .= $escapes[$byte];
            } elseif (ord($byte) < 0x20) {
                $out .= sprintf('\\u%04x', ord($byte));
            } else {
                $out .= $byte; // UTF-8 stays as it is
            }
        }
        return $out . '"';
    }

    /** ECMAScript Number::toString, from PHP's shortest round-trip digits (serialize_precision -1). */
    public static function ecmaNumber(float $value): string
    {
        if (is_nan($value) || is_infinite($value)) {
            throw new \InvalidArgumentException('NaN and infinities are not JSON');
        }
        if ($value == 0.0) {
            return '0';
        }
        $previous = ini_set('serialize_precision', '-1');
        $text = var_export(abs($value), true); // e.g. 0.1, 123456789.125, 1.0E+21, 5.0E-324
        ini_set('serialize_precision', (string) $previous);
        [$mantissa, $exponent] = array_pad(explode('E', strtoupper($text)), 2, '0');
        [$whole, $fraction] = array_pad(explode('.', $mantissa), 2, '');
        $digits = $whole . $fraction;
        $n = strlen($whole) + (int) $exponent; // value = 0.<digits> x 10^n
        while ($digits !== '' && $digits[0] === '0') {
            $digits = substr($digits, 1);
            $n--;
        }
        $digits = rtrim($digits, '0');
        $k = strlen($digits);
        if ($k <= $n && $n <= 21) {
            $out = $digits . str_repeat('0', $n - $k);
        } elseif (0 < $n && $n <= 21) {
            $out = substr($digits, 0, $n) . '.' . substr($digits, $n);
        } elseif (-6 < $n && $n <= 0) {
            $out = '0.' . str_repeat('0', -$n) . $digits;
        } else {
            $e = $n - 1;
            $out = $digits[0] . ($k > 1 ? '.' . substr($digits, 1) : '') . 'e' . ($e >= 0 ? '+' : '-') . abs($e);
        }
        return ($value < 0 ? '-' : '') . $out;
    }

    // --- keys and signed answers -----------------------------------------------------------------

    /** The DER SubjectPublicKeyInfo of a PEM: RSA (2048 bits or more) or Ed25519; null if unusable. */
    public static function publicKeyDer(string $pem): ?string
    {
        if (!preg_match('/-----BEGIN PUBLIC KEY-----(.+?)-----END PUBLIC KEY-----/s', $pem, $match)) {
            return null;
        }
        $der = base64_decode(preg_replace('/\s+/', '', $match[1]), true);
        if ($der === false) {
            return null;
        }
        if (strlen($der) === 44 && bin2hex(substr($der, 0, 12)) === self::ED25519_SPKI_PREFIX) {
            return $der;
        }
        $key = openssl_pkey_get_public($pem);
        $details = $key ? openssl_pkey_get_details($key) : false;
        if (!$details || $details['type'] !== OPENSSL_KEYTYPE_RSA || $details['bits'] < 2048) {
            return null;
        }
        return $der;
    }

    /** First 16 hex of SHA-256 over the key's DER SubjectPublicKeyInfo. */
    public static function keyId(string $pem): string
    {
        $der = self::publicKeyDer($pem);
        if ($der === null) {
            throw new \InvalidArgumentException('unsupported signing key: only RSA and Ed25519');
        }
        return substr(hash('sha256', $der), 0, 16);
    }

    /** What an answer's signature covers: canonical JSON of $data without "signature". */
    public static function answerMessage($data): string
    {
        $signed = (array) $data;
        unset($signed['signature']);
        return self::canonicalJson((object) $signed);
    }

    /** True only when $data->signature is a valid signature of $data by the key in $pem. */
    public static function verifyAnswerSignature(string $pem, $data): bool
    {
        if (!($data instanceof \stdClass) || !isset($data->signature) || !is_string($data->signature)) {
            return false;
        }
        $signature = base64_decode($data->signature, true);
        $der = self::publicKeyDer($pem);
        if ($signature === false || $der === null) {
            return false;
        }
        try {
            $message = self::answerMessage($data);
        } catch (\InvalidArgumentException $e) {
            return false;
        }
        if (strlen($der) === 44 && bin2hex(substr($der, 0, 12)) === self::ED25519_SPKI_PREFIX) {
            return strlen($signature) === SODIUM_CRYPTO_SIGN_BYTES
                && sodium_crypto_sign_verify_detached($signature, $message, substr($der, 12));
        }
        return openssl_verify($message, $signature, $pem, OPENSSL_ALGO_SHA256) === 1;
    }

    /**
     * Why a successful answer must be refused, or null when it may be trusted: a valid signature by the
     * key in $pem, that key's id, this request's nonce, a server time within $maxSkewMs of $nowMs, and the
     * product, license key and device of $request.
     */
    public static function checkAnswer(string $pem, string $expectedKeyId, $data, string $nonce, int $nowMs,
                                       int $maxSkewMs, array $request): ?string
    {
        if (!($data instanceof \stdClass) || !property_exists($data, 'signature')) {
            return 'the answer is not signed';
        }
        if (!self::verifyAnswerSignature($pem, $data)) {
            return "the answer's signature does not verify";
        }
        if (($data->key_id ?? null) !== $expectedKeyId) {
            return 'the answer names another signing key';
        }
        if (($data->nonce ?? null) !== $nonce) {
            return "the answer does not echo this request's nonce (replayed answer?)";
        }
        $serverMs = self::parseTimeMs($data->timestamp ?? null);
        if ($serverMs === null) {
            return 'the answer has no valid timestamp';
        }
        if (abs($nowMs - $serverMs) > $maxSkewMs) {
            return "the answer's timestamp is too far from the local clock";
        }
        foreach (self::BOUND_FIELDS as $name) {
            $got = $data->{$name} ?? null;
            if (!is_string($got) || strtolower($got) !== strtolower((string) ($request[$name] ?? ''))) {
                return "the answer is about another {$name}";
            }
        }
        return null;
    }

    /** Milliseconds since the epoch of an ISO-8601 time with a zone; null otherwise. */
    public static function parseTimeMs($value): ?int
    {
        if (!is_string($value) || !preg_match('/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})$/', $value)) {
            return null;
        }
        try {
            $time = new \DateTimeImmutable($value);
        } catch (\Exception $e) {
            return null;
        }
        return (int) $time->format('U') * 1000 + intdiv((int) $time->format('u'), 1000);
    }

    // --- the envelope ----------------------------------------------------------------------------

    public static function envelopeHmac(string $secretKey, string $iv, string $data, string $tag, int $timestamp): string
    {
        return hash_hmac('sha256', "{$iv}:{$data}:{$tag}:{$timestamp}", $secretKey);
    }

    /** Seals the exact bytes $plaintext; pass $iv and $timestampMs only to reproduce a test vector. */
    public static function sealBytes(string $secretKey, string $productId, string $plaintext, ?int $timestampMs = null,
                                     ?string $iv = null): array
    {
        $iv = $iv ?? random_bytes(self::IV_BYTES);
        if (strlen($iv) !== self::IV_BYTES) {
            throw new \InvalidArgumentException('the iv must be ' . self::IV_BYTES . ' bytes');
        }
        $timestamp = $timestampMs ?? (int) floor(microtime(true) * 1000);
        $tag = '';
        $ciphertext = openssl_encrypt($plaintext, 'aes-256-gcm', hash('sha256', $secretKey, true), OPENSSL_RAW_DATA, $iv,
            $tag, '', self::TAG_BYTES);
        if ($ciphertext === false) {
            throw new \RuntimeException('AES-256-GCM is not available');
        }
        [$ivHex, $dataHex, $tagHex] = [bin2hex($iv), bin2hex($ciphertext), bin2hex($tag)];
        return ['encrypted' => true, 'iv' => $ivHex, 'data' => $dataHex, 'tag' => $tagHex,
            'signature' => self::envelopeHmac($secretKey, $ivHex, $dataHex, $tagHex, $timestamp),
            'product_id' => $productId, 'timestamp' => $timestamp];
    }

    private static function hexField(\stdClass $envelope, string $name, int $length): string
    {
        $value = $envelope->{$name} ?? null;
        if (!is_string($value) || !preg_match('/^[0-9a-fA-F]*$/', $value) || strlen($value) % 2 !== 0) {
            throw new EnvelopeException("envelope field {$name} is not hex");
        }
        if ($length > 0 && strlen($value) !== $length) {
            throw new EnvelopeException("envelope field {$name} has the wrong length");
        }
        return $value;
    }

    /** The JSON object inside (as stdClass), checked in the server's order: shape, HMAC, clock, GCM, JSON. */
    public static function openEnvelope(string $secretKey, $envelope, ?int $nowMs = null,
                                        int $maxSkewMs = self::MAX_SKEW_MS): \stdClass
    {
        if (!($envelope instanceof \stdClass) || ($envelope->encrypted ?? null) !== true) {
            throw new EnvelopeException('not an encrypted envelope');
        }
        $iv = self::hexField($envelope, 'iv', self::IV_BYTES * 2);
        $data = self::hexField($envelope, 'data', 0);
        $tag = self::hexField($envelope, 'tag', self::TAG_BYTES * 2);
        $signature = self::hexField($envelope, 'signature', 64);
        $timestamp = $envelope->timestamp ?? null;
        if (!is_int($timestamp)) {
            throw new EnvelopeException('envelope timestamp is not an integer');
        }
        if (!hash_equals(self::envelopeHmac($secretKey, $iv, $data, $tag, $timestamp), strtolower($signature))) {
            throw new EnvelopeException('envelope HMAC does not match');
        }
        $nowMs = $nowMs ?? (int) floor(microtime(true) * 1000);
        if (abs($nowMs - $timestamp) > $maxSkewMs) {
            throw new EnvelopeException('envelope timestamp is outside the allowed clock skew');
        }
        $plaintext = openssl_decrypt(hex2bin($data), 'aes-256-gcm', hash('sha256', $secretKey, true), OPENSSL_RAW_DATA,
            hex2bin($iv), hex2bin($tag));
        if ($plaintext === false) {
            throw new EnvelopeException('envelope does not decrypt');
        }
        $payload = json_decode($plaintext, false, 512);
        if (!($payload instanceof \stdClass)) {
            throw new EnvelopeException('envelope plaintext is not a JSON object');
        }
        return $payload;
    }

    // --- challenge-response ----------------------------------------------------------------------

    /** hex HMAC-SHA256(secret key, challenge . licenseKey . hwid). */
    public static function challengeResponse(string $secretKey, string $challenge, string $licenseKey, string $hwid): string
    {
        return hash_hmac('sha256', $challenge . $licenseKey . $hwid, $secretKey);
    }
}
