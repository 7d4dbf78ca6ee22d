package licensecm

import "fmt"

// Error is what every call returns on failure. Code is the server's error_code (LICENSE_NOT_FOUND,
// HWID_MISMATCH, SESSION_EXPIRED, ...) or one of the SDK's own: SECURITY_VIOLATION with Status 0
// (an answer failed verification here), NETWORK_ERROR (no answer), INVALID_RESPONSE (not the API's
// JSON), NOT_ACTIVATED (no session or no license key). Status is the HTTP status, 0 if none.
type Error struct {
	Code    string
	Status  int
	Message string
	Details map[string]interface{}
}

func (e *Error) Error() string {
	if e.Status != 0 {
		return fmt.Sprintf("licensecm: %s (%s, HTTP %d)", e.Message, e.Code, e.Status)
	}
	return fmt.Sprintf("licensecm: %s (%s)", e.Message, e.Code)
}

func newError(code string, status int, message string, details map[string]interface{}) *Error {
	if details == nil {
		details = map[string]interface{}{}
	}
	return &Error{Code: code, Status: status, Message: message, Details: details}
}

// SessionEndingCodes are the heartbeat refusals after which the session cannot go on:
// OnSessionExpired is called once.
var SessionEndingCodes = map[string]bool{
	"SESSION_EXPIRED": true, "LICENSE_SUSPENDED": true, "LICENSE_EXPIRED": true, "LICENSE_NOT_FOUND": true,
	"HWID_MISMATCH": true, "PRODUCT_NOT_FOUND": true, "BLACKLISTED": true, "SECURITY_VIOLATION": true,
}
