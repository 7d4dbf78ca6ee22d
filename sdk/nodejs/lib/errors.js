'use strict';

/**
 * The one error the SDK throws. `code` is the server's error_code (LICENSE_NOT_FOUND, HWID_MISMATCH,
 * SESSION_EXPIRED, ...) or one of the SDK's own: SECURITY_VIOLATION (an answer failed verification
 * here; status null), NETWORK_ERROR (no answer), INVALID_RESPONSE (not the API's JSON),
 * NOT_ACTIVATED (no session or no license key). `status` is the HTTP status when there was one.
 */
class LicenseCMError extends Error {
  constructor(message, code = null, status = null, details = {}) {
    super(message);
    this.name = 'LicenseCMError';
    this.code = code;
    this.status = status;
    this.details = details;
  }
}

module.exports = { LicenseCMError };
