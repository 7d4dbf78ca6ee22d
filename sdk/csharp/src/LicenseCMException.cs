using System;
using System.Collections.Generic;

namespace LicenseCM
{
    /// <summary>
    /// What every call throws on failure. <see cref="Code"/> is the server's error_code (LICENSE_NOT_FOUND,
    /// HWID_MISMATCH, SESSION_EXPIRED, ...) or one of the SDK's own: SECURITY_VIOLATION with Status 0 (an
    /// answer failed verification here), NETWORK_ERROR (no answer), INVALID_RESPONSE (not the API's JSON),
    /// NOT_ACTIVATED (no session or no license key). <see cref="Status"/> is the HTTP status, 0 if none.
    /// </summary>
    public class LicenseCMException : Exception
    {
        public string Code { get; private set; }
        public int Status { get; private set; }
        public IDictionary<string, object> Details { get; private set; }

        public LicenseCMException(string message, string code, int status = 0, IDictionary<string, object> details = null)
            : base(message)
        {
            Code = code;
            Status = status;
            Details = details ?? new Dictionary<string, object>();
        }
    }

    public class SecurityViolationEventArgs : EventArgs
    {
        /// <summary>"client" (found by this SDK) or "server" (a SECURITY_VIOLATION refusal or a blacklist block).</summary>
        public string Type { get; set; }
        public string Reason { get; set; }
        public IDictionary<string, object> Details { get; set; }
    }

    public class HeartbeatFailedEventArgs : EventArgs
    {
        public string Error { get; set; }
        public LicenseCMException Exception { get; set; }
    }
}
