<?php

declare(strict_types=1);

namespace LicenseCM;

/** Thrown when an envelope must not be trusted: malformed, bad HMAC, stale, failing GCM or not JSON. */
class EnvelopeException extends \RuntimeException
{
}
