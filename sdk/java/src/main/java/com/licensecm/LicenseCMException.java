package com.licensecm;

import java.util.Collections;
import java.util.Map;

/**
 * What every call throws on failure. {@link #getCode()} is the server's error_code (LICENSE_NOT_FOUND,
 * HWID_MISMATCH, SESSION_EXPIRED, ...) or one of the SDK's own: SECURITY_VIOLATION with status 0 (an
 * answer failed verification here), NETWORK_ERROR (no answer), INVALID_RESPONSE (not the API's JSON),
 * NOT_ACTIVATED (no session or no license key). {@link #getStatus()} is the HTTP status, 0 if none.
 */
public class LicenseCMException extends Exception {
    private static final long serialVersionUID = 1L;
    private final String code;
    private final int status;
    private final Map<String, Object> details;

    public LicenseCMException(String message, String code, int status, Map<String, Object> details) {
        super(message);
        this.code = code;
        this.status = status;
        this.details = details == null ? Collections.emptyMap() : Collections.unmodifiableMap(details);
    }

    public String getCode() {
        return code;
    }

    public int getStatus() {
        return status;
    }

    public Map<String, Object> getDetails() {
        return details;
    }
}
