// Package licensecm is the Go SDK for KeyLedger's client API (the LicenseCM protocol): activate,
// validate, keep alive and deactivate a license. Every successful answer is verified before it is
// returned (signature, pinned key id, this request's nonce, server time, and the product, key and
// device it is about), so the application fails closed.
package licensecm

import (
	"bytes"
	"crypto"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"runtime"
	"strings"
	"sync"
	"time"
)

// Version of this SDK, sent in the User-Agent.
const Version = "0.1.0"

const (
	maxAnswerBytes      = 1 << 20
	heartbeatRetryDelay = 30 * time.Second
)

// Client talks to one product on one KeyLedger server. Set the exported fields before the first
// call; the methods are safe for concurrent use.
type Client struct {
	BaseURL           string
	ProductID         string
	SecretKey         string
	UseEncryption     bool
	AutoHeartbeat     bool
	HeartbeatInterval time.Duration

	// PinnedPublicKey (a PEM) or PinnedKeyID (16 hex) pin the server's signing key: strongly recommended.
	PinnedPublicKey string
	PinnedKeyID     string
	// HWID identifies this device; GenerateHWID() when empty.
	HWID string
	// MaxClockSkew bounds how far an answer's time may be from ours (default 5 minutes).
	MaxClockSkew time.Duration
	// HTTPClient sends the requests (default: 10 s timeout).
	HTTPClient *http.Client

	OnSessionExpired    func()
	OnSecurityViolation func(details map[string]interface{})
	OnHeartbeatFailed   func(err error)

	mu                 sync.Mutex
	beatMu             sync.Mutex // one heartbeat at a time: each one rotates the token
	publicKey          crypto.PublicKey
	publicKeyID        string
	licenseKey         string
	sessionHWID        string
	sessionToken       string
	sessionExpires     *time.Time
	sessionEndReported bool
	heartbeatStop      chan struct{}
}

// NewClient makes a client with the published SDK's defaults: automatic heartbeat every 5 minutes.
func NewClient(baseURL, productID, secretKey string) *Client {
	return &Client{BaseURL: baseURL, ProductID: productID, SecretKey: secretKey, AutoHeartbeat: true,
		HeartbeatInterval: 5 * time.Minute}
}

// --- the API ------------------------------------------------------------------------------------

// Initialize fetches the product's public key and checks it against the pin. The first request
// calls it when you have not.
func (c *Client) Initialize() error {
	_, err := c.FetchPublicKey()
	return err
}

// FetchPublicKey is Initialize returning {"key_id", "algorithm", "public_key"}.
func (c *Client) FetchPublicKey() (map[string]interface{}, error) {
	answer, err := c.exchange("public-key", http.MethodGet, "/client/public-key?product_id="+url.QueryEscape(c.ProductID), nil)
	if err != nil {
		return nil, err
	}
	data, _ := answer["data"].(map[string]interface{})
	pemText, _ := data["public_key"].(string)
	if pemText == "" {
		return nil, newError("INVALID_RESPONSE", 0, "the public key answer has no key", nil)
	}
	key, err := LoadPublicKey(pemText)
	if err != nil {
		return nil, c.violation("public-key", "unusable public key: "+err.Error())
	}
	fetchedID, _ := KeyID(key)
	if served, _ := data["key_id"].(string); served != fetchedID {
		return nil, c.violation("public-key", "the served key_id does not match the served key")
	}
	pinnedKey, pinnedID, err := c.pin()
	if err != nil {
		return nil, err
	}
	if pinnedID != "" && pinnedID != fetchedID {
		return nil, c.violation("public-key", "the server's public key is not the pinned key")
	}
	if pinnedKey != nil {
		key = pinnedKey
	}
	c.mu.Lock()
	c.publicKey, c.publicKeyID = key, fetchedID
	c.mu.Unlock()
	return map[string]interface{}{"key_id": fetchedID, "algorithm": data["algorithm"], "public_key": pemText}, nil
}

// Activate binds this device (hwid, or the client's HWID when "") to the license, opens a session
// and starts the automatic heartbeat.
func (c *Client) Activate(licenseKey, hwid string) (map[string]interface{}, error) {
	device := c.device(hwid)
	data, err := c.signedCall("activate", map[string]interface{}{"license_key": licenseKey, "hwid": device,
		"client_data": clientData()})
	if err != nil {
		return nil, err
	}
	session, _ := data["session"].(map[string]interface{})
	token, _ := session["token"].(string)
	if activated, _ := data["activated"].(bool); !activated || token == "" {
		return nil, newError("INVALID_RESPONSE", 0, "the activation answer has no session", data)
	}
	c.StopHeartbeat()
	c.mu.Lock()
	c.licenseKey, c.sessionHWID, c.sessionToken, c.sessionEndReported = licenseKey, device, token, false
	c.sessionExpires = parseOptionalTime(session["expires_at"])
	c.mu.Unlock()
	if c.AutoHeartbeat {
		c.StartHeartbeat()
	}
	return data, nil
}

// Validate checks the license on this device ("" means the activated key and device).
func (c *Client) Validate(licenseKey, hwid string) (map[string]interface{}, error) {
	key, err := c.keyOrActivated(licenseKey)
	if err != nil {
		return nil, err
	}
	data, err := c.signedCall("validate", map[string]interface{}{"license_key": key, "hwid": c.device(hwid),
		"client_data": clientData()})
	if err != nil {
		return nil, err
	}
	if valid, _ := data["valid"].(bool); !valid {
		return nil, newError("INVALID_RESPONSE", 0, "the license is not valid", data)
	}
	return data, nil
}

// Heartbeat keeps the session alive and stores the rotated token. The arguments exist for the
// published SDK's signature: pass "" (the session's key and device are used). A session-ending
// refusal clears the session, stops the automatic heartbeat and calls OnSessionExpired once.
func (c *Client) Heartbeat(licenseKey, hwid string) (map[string]interface{}, error) {
	c.beatMu.Lock()
	c.mu.Lock()
	token, key, device := c.sessionToken, c.licenseKey, c.sessionHWID
	c.mu.Unlock()
	if token == "" || key == "" {
		c.beatMu.Unlock()
		return nil, newError("NOT_ACTIVATED", 0, "no active session: call Activate first", nil)
	}
	if (licenseKey != "" && licenseKey != key) || (hwid != "" && hwid != device) {
		c.beatMu.Unlock()
		return nil, newError("NOT_ACTIVATED", 0, "no session for that license key and device", nil)
	}
	data, err := c.signedCall("heartbeat", map[string]interface{}{"license_key": key, "hwid": device,
		"session_token": token})
	if err != nil {
		var apiErr *Error
		ended := errors.As(err, &apiErr) && SessionEndingCodes[apiErr.Code] && c.endSession(token)
		c.beatMu.Unlock()
		if ended && c.OnSessionExpired != nil {
			c.OnSessionExpired() // outside the locks: the callback may call back into the client
		}
		return nil, err
	}
	defer c.beatMu.Unlock()
	newToken, _ := data["new_token"].(string)
	if valid, _ := data["valid"].(bool); !valid || newToken == "" {
		return nil, newError("INVALID_RESPONSE", 0, "the heartbeat answer has no new token", data)
	}
	c.mu.Lock()
	if c.sessionToken == token { // not ended or replaced meanwhile
		c.sessionToken = newToken
		if expires := parseOptionalTime(data["expires_at"]); expires != nil {
			c.sessionExpires = expires
		}
	}
	c.mu.Unlock()
	return data, nil
}

// Deactivate frees this device's seat and ends the session ("" means the activated key and device).
func (c *Client) Deactivate(licenseKey, hwid string) (map[string]interface{}, error) {
	key, err := c.keyOrActivated(licenseKey)
	if err != nil {
		return nil, err
	}
	c.mu.Lock()
	ours := key == c.licenseKey
	c.mu.Unlock()
	if ours {
		c.StopHeartbeat() // a heartbeat must not race the deactivation
	}
	data, err := c.signedCall("deactivate", map[string]interface{}{"license_key": key, "hwid": c.device(hwid)})
	if err == nil {
		if deactivated, _ := data["deactivated"].(bool); !deactivated {
			err = newError("INVALID_RESPONSE", 0, "the deactivation answer is not a deactivation", data)
		}
	}
	if err != nil {
		if ours && c.SessionToken() != "" && c.AutoHeartbeat {
			c.StartHeartbeat() // the session lives on: keep it alive
		}
		return nil, err
	}
	if ours {
		c.mu.Lock()
		c.sessionToken, c.sessionExpires, c.sessionEndReported = "", nil, true
		c.mu.Unlock()
	}
	return data, nil
}

// Challenge validates by challenge-response, proving this client holds the product secret.
func (c *Client) Challenge(licenseKey string) (map[string]interface{}, error) {
	if c.SecretKey == "" {
		return nil, errors.New("licensecm: Challenge needs the product's SecretKey")
	}
	key, err := c.keyOrActivated(licenseKey)
	if err != nil {
		return nil, err
	}
	if err := c.ensureInitialized(); err != nil {
		return nil, err
	}
	device := c.device("")
	issued, err := c.exchange("challenge", http.MethodPost, "/client/challenge", map[string]interface{}{
		"license_key": key, "hwid": device, "product_id": c.ProductID})
	if err != nil {
		return nil, err
	}
	issuedData, _ := issued["data"].(map[string]interface{})
	challenge, _ := issuedData["challenge"].(string)
	if challenge == "" {
		return nil, newError("INVALID_RESPONSE", 0, "the challenge answer has no challenge", issued)
	}
	data, err := c.signedCall("challenge", map[string]interface{}{"license_key": key, "hwid": device,
		"challenge": challenge, "response": ChallengeResponse(c.SecretKey, challenge, key, device)})
	if err != nil {
		return nil, err
	}
	if valid, _ := data["valid"].(bool); !valid {
		return nil, newError("INVALID_RESPONSE", 0, "the license is not valid", data)
	}
	return data, nil
}

// StartHeartbeat starts (or restarts) the automatic heartbeat every HeartbeatInterval.
func (c *Client) StartHeartbeat() {
	c.StopHeartbeat()
	stop := make(chan struct{})
	c.mu.Lock()
	c.heartbeatStop = stop
	c.mu.Unlock()
	go c.heartbeatLoop(stop)
}

// StopHeartbeat stops the automatic heartbeat; the session stays open.
func (c *Client) StopHeartbeat() {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.heartbeatStop != nil {
		close(c.heartbeatStop)
		c.heartbeatStop = nil
	}
}

// HeartbeatRunning says whether the automatic heartbeat is on.
func (c *Client) HeartbeatRunning() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.heartbeatStop != nil
}

// SessionToken is the current (rotated) session token, "" without a session.
func (c *Client) SessionToken() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.sessionToken
}

// IsSessionValid says whether a session is open and not past its expiry.
func (c *Client) IsSessionValid() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.sessionToken != "" && (c.sessionExpires == nil || time.Now().Before(*c.sessionExpires))
}

// GetSessionInfo returns token, expires, is_valid, license_key and hwid.
func (c *Client) GetSessionInfo() map[string]interface{} {
	valid := c.IsSessionValid()
	c.mu.Lock()
	defer c.mu.Unlock()
	return map[string]interface{}{"token": c.sessionToken, "expires": c.sessionExpires, "is_valid": valid,
		"license_key": c.licenseKey, "hwid": c.sessionHWID}
}

// Destroy stops the heartbeat. The seat stays taken: call Deactivate to free it.
func (c *Client) Destroy() {
	c.StopHeartbeat()
}

// --- requests and checks ------------------------------------------------------------------------

func (c *Client) pin() (crypto.PublicKey, string, error) {
	pinnedID := strings.ToLower(c.PinnedKeyID)
	if c.PinnedPublicKey == "" {
		return nil, pinnedID, nil
	}
	key, err := LoadPublicKey(c.PinnedPublicKey)
	if err != nil {
		return nil, "", fmt.Errorf("licensecm: PinnedPublicKey: %w", err)
	}
	id, _ := KeyID(key)
	if pinnedID != "" && pinnedID != id {
		return nil, "", errors.New("licensecm: PinnedKeyID does not belong to PinnedPublicKey")
	}
	return key, id, nil
}

func (c *Client) ensureInitialized() error {
	c.mu.Lock()
	ready := c.publicKey != nil
	c.mu.Unlock()
	if ready {
		return nil
	}
	return c.Initialize()
}

func (c *Client) signedCall(action string, fields map[string]interface{}) (map[string]interface{}, error) {
	if err := c.ensureInitialized(); err != nil {
		return nil, err
	}
	nonce := make([]byte, 16)
	if _, err := rand.Read(nonce); err != nil {
		return nil, err
	}
	body := map[string]interface{}{"product_id": c.ProductID, "nonce": hex.EncodeToString(nonce)}
	for name, value := range fields {
		body[name] = value
	}
	answer, err := c.exchange(action, http.MethodPost, "/client/"+action, body)
	if err != nil {
		return nil, err
	}
	data, _ := answer["data"].(map[string]interface{})
	c.mu.Lock()
	key, keyID := c.publicKey, c.publicKeyID
	c.mu.Unlock()
	skew := c.MaxClockSkew
	if skew <= 0 {
		skew = MaxClockSkew
	}
	reason := CheckAnswer(key, data, Expectation{KeyID: keyID, Nonce: body["nonce"].(string), Now: time.Now(),
		MaxClockSkew: skew, Request: body})
	if reason != "" {
		return nil, c.violation(action, reason)
	}
	return data, nil
}

func (c *Client) exchange(action, method, path string, body map[string]interface{}) (map[string]interface{}, error) {
	sealed := c.UseEncryption && body != nil
	var payload io.Reader
	if body != nil {
		plain, err := json.Marshal(body)
		if err != nil {
			return nil, err
		}
		if sealed {
			envelope, err := SealBytes(c.SecretKey, c.ProductID, plain, time.Now().UnixMilli(), nil)
			if err != nil {
				return nil, err
			}
			plain, _ = json.Marshal(envelope)
		}
		payload = bytes.NewReader(plain)
	}
	request, err := http.NewRequest(method, apiURL(c.BaseURL)+path, payload)
	if err != nil {
		return nil, err
	}
	request.Header.Set("Accept", "application/json")
	request.Header.Set("User-Agent", "licensecm-go/"+Version)
	if body != nil {
		request.Header.Set("Content-Type", "application/json")
	}
	response, err := c.httpClient().Do(request)
	if err != nil {
		return nil, newError("NETWORK_ERROR", 0, "no answer from the license server: "+err.Error(),
			map[string]interface{}{"action": action})
	}
	defer response.Body.Close()
	raw, err := io.ReadAll(io.LimitReader(response.Body, maxAnswerBytes))
	if err != nil {
		return nil, newError("NETWORK_ERROR", 0, "the answer was cut off: "+err.Error(), nil)
	}
	var answer map[string]interface{}
	if err := json.Unmarshal(raw, &answer); err != nil || answer == nil {
		return nil, newError("INVALID_RESPONSE", response.StatusCode,
			fmt.Sprintf("the license server's answer is not JSON (HTTP %d)", response.StatusCode), nil)
	}
	if sealed {
		if answer, err = c.open(action, answer); err != nil {
			return nil, err
		}
	}
	if success, _ := answer["success"].(bool); !success {
		return nil, c.refused(action, response.StatusCode, answer)
	}
	return answer, nil
}

func (c *Client) open(action string, answer map[string]interface{}) (map[string]interface{}, error) {
	if encrypted, _ := answer["encrypted"].(bool); encrypted {
		if product, _ := answer["product_id"].(string); !strings.EqualFold(product, c.ProductID) {
			return nil, c.violation(action, "the encrypted answer is for another product")
		}
		skew := c.MaxClockSkew
		if skew <= 0 {
			skew = MaxClockSkew
		}
		opened, err := OpenEnvelope(c.SecretKey, answer, time.Now(), skew)
		if err != nil {
			return nil, c.violation(action, "the encrypted answer failed its checks: "+err.Error())
		}
		return opened, nil
	}
	// The server answers a refused envelope in plain JSON (it cannot know whether the sender holds
	// the secret). A refusal grants nothing, so it is safe to read; a plain success is a downgrade.
	if success, ok := answer["success"].(bool); ok && !success {
		return answer, nil
	}
	return nil, c.violation(action, "an encrypted request got an unencrypted answer")
}

func (c *Client) refused(action string, status int, answer map[string]interface{}) error {
	code, _ := answer["error_code"].(string)
	if code == "" {
		code = "HTTP_ERROR"
	}
	message, _ := answer["message"].(string)
	if message == "" {
		message = fmt.Sprintf("HTTP %d", status)
	}
	blocked, _ := answer["security_blocked"].(bool)
	if code == "SECURITY_VIOLATION" || blocked {
		details := map[string]interface{}{"source": "server", "action": action, "reason": message, "code": code,
			"status": status}
		if extra, ok := answer["security_details"]; ok {
			details["security_details"] = extra
		}
		c.report(details)
	}
	answer["action"] = action
	return newError(code, status, message, answer)
}

func (c *Client) violation(action, reason string) error {
	details := map[string]interface{}{"source": "client", "action": action, "reason": reason}
	c.report(details)
	return newError("SECURITY_VIOLATION", 0, "security violation: "+reason, details)
}

func (c *Client) report(details map[string]interface{}) {
	if c.OnSecurityViolation != nil {
		c.OnSecurityViolation(details)
	}
}

// endSession forgets the session token and stops the heartbeat; true if OnSessionExpired is due.
func (c *Client) endSession(token string) bool {
	c.mu.Lock()
	if c.sessionToken != token && c.sessionToken != "" {
		c.mu.Unlock()
		return false // a newer activation replaced this session: it is not over
	}
	c.sessionToken, c.sessionExpires = "", nil
	due := !c.sessionEndReported
	c.sessionEndReported = true
	c.mu.Unlock()
	c.StopHeartbeat()
	return due
}

func (c *Client) heartbeatLoop(stop chan struct{}) {
	interval := c.HeartbeatInterval
	if interval <= 0 {
		interval = 5 * time.Minute
	}
	delay := interval
	for {
		timer := time.NewTimer(delay)
		select {
		case <-stop:
			timer.Stop()
			return
		case <-timer.C:
		}
		_, err := c.Heartbeat("", "")
		var apiErr *Error
		switch {
		case err == nil:
			delay = interval
		case errors.As(err, &apiErr) && (SessionEndingCodes[apiErr.Code] || apiErr.Code == "NOT_ACTIVATED"):
			return
		default:
			if c.OnHeartbeatFailed != nil {
				c.OnHeartbeatFailed(err)
			}
			delay = interval
			if delay > heartbeatRetryDelay {
				delay = heartbeatRetryDelay
			}
		}
	}
}

func (c *Client) keyOrActivated(licenseKey string) (string, error) {
	if licenseKey != "" {
		return licenseKey, nil
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.licenseKey == "" {
		return "", newError("NOT_ACTIVATED", 0, "no license key: pass one or call Activate first", nil)
	}
	return c.licenseKey, nil
}

func (c *Client) device(hwid string) string {
	if hwid != "" {
		return hwid
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.sessionHWID != "" {
		return c.sessionHWID
	}
	if c.HWID != "" {
		return c.HWID
	}
	return GenerateHWID()
}

func (c *Client) httpClient() *http.Client {
	if c.HTTPClient != nil {
		return c.HTTPClient
	}
	return &http.Client{Timeout: 10 * time.Second}
}

func apiURL(base string) string {
	trimmed := strings.TrimRight(strings.TrimSpace(base), "/")
	if strings.HasSuffix(trimmed, "/api") {
		return trimmed
	}
	return trimmed + "/api"
}

func clientData() map[string]interface{} {
	return map[string]interface{}{"platform": runtime.GOOS, "vm_indicators": []string{}, "debug_indicators": []string{}}
}

func parseOptionalTime(value interface{}) *time.Time {
	text, _ := value.(string)
	if parsed, err := time.Parse(time.RFC3339Nano, text); err == nil {
		return &parsed
	}
	return nil
}
