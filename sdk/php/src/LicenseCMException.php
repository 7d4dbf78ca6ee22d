<?php

declare(strict_types=1);

namespace LicenseCM;

/**
 * What every call throws on failure. getErrorCode() is the server's error_code (LICENSE_NOT_FOUND,
 * HWID_MISMATCH, SESSION_EXPIRED, ...) or one of the SDK's own: SECURITY_VIOLATION with status 0 (an
 * answer failed verification here), NETWORK_ERROR (no answer), INVALID_RESPONSE (not the API's JSON),
 * NOT_ACTIVATED (no session or no license key). getStatus() is the HTTP status, 0 if none.
 */
class LicenseCMException extends \Exception
{
    private string $errorCode;
    private int $status;
    private array $details;

    public function __construct(string $message, string $errorCode, int $status = 0, array $details = [])
    {
        parent::__construct($message);
        $this->errorCode = $errorCode;
        $this->status = $status;
        $this->details = $details;
    }

    public function getErrorCode(): string
    {
        return $this->errorCode;
    }

    public function getStatus(): int
    {
        return $this->status;
    }

    public function getDetails(): array
    {
        return $this->details;
    }
}
