package licensecm

import (
	"crypto/ed25519"
	"crypto/rand"
	"crypto/x509"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// fakeServer stands in for KeyLedger's client API, signing with the documented Ed25519 test key.
// The real server is exercised by sdk/conformance/scenario.py.
type fakeServer struct {
	*httptest.Server
	secret, productID string
	key               ed25519.PrivateKey
	mu                sync.Mutex
	tokens            map[string]bool
	posts             int
	suspended         bool
	tamper            func(data map[string]interface{})
}

func newFakeServer(t *testing.T) *fakeServer {
	seed := make([]byte, 32)
	for i := range seed {
		seed[i] = byte(i)
	}
	s := &fakeServer{secret: "sk_live_test_secret", productID: "3f2b8c1e-9a4d-4e6f-8b7a-1c2d3e4f5a6b",
		key: ed25519.NewKeyFromSeed(seed), tokens: map[string]bool{}}
	s.Server = httptest.NewServer(http.HandlerFunc(s.handle))
	t.Cleanup(s.Close)
	return s
}

func (s *fakeServer) publicPEM() string {
	der, _ := x509.MarshalPKIXPublicKey(s.key.Public())
	return string(pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der}))
}

func (s *fakeServer) handle(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	defer s.mu.Unlock()
	raw, _ := io.ReadAll(r.Body)
	var body map[string]interface{}
	json.Unmarshal(raw, &body)
	sealed := false
	if encrypted, _ := body["encrypted"].(bool); encrypted {
		opened, err := OpenEnvelope(s.secret, body, time.Now(), MaxClockSkew)
		if err != nil {
			s.send(w, 403, map[string]interface{}{"success": false, "message": err.Error(), "error_code": "SECURITY_VIOLATION"}, false)
			return
		}
		body, sealed = opened, true
	}
	status, answer := s.answer(r.URL.Path, body)
	s.send(w, status, answer, sealed)
}

func (s *fakeServer) answer(path string, body map[string]interface{}) (int, map[string]interface{}) {
	refuse := func(status int, code string) (int, map[string]interface{}) {
		return status, map[string]interface{}{"success": false, "message": code, "error_code": code}
	}
	if path == "/api/client/public-key" {
		id, _ := KeyID(s.key.Public())
		return 200, map[string]interface{}{"success": true, "data": map[string]interface{}{
			"public_key": s.publicPEM(), "key_id": id, "algorithm": "ed25519"}}
	}
	s.posts++
	if body["license_key"] != "GOOD-KEY" {
		return refuse(404, "LICENSE_NOT_FOUND")
	}
	if s.suspended {
		return refuse(403, "LICENSE_SUSPENDED")
	}
	token := func() string {
		raw := make([]byte, 8)
		rand.Read(raw)
		s.tokens[hex.EncodeToString(raw)] = true
		return hex.EncodeToString(raw)
	}
	var data map[string]interface{}
	switch path {
	case "/api/client/activate":
		data = map[string]interface{}{"activated": true, "session": map[string]interface{}{"token": token(), "expires_at": "2999-01-01T00:00:00.000000Z"}}
	case "/api/client/validate":
		data = map[string]interface{}{"valid": true, "watermark": "00000000000000000000000000000000"}
	case "/api/client/deactivate":
		data = map[string]interface{}{"deactivated": true, "current_uses": 0}
	case "/api/client/heartbeat":
		old, _ := body["session_token"].(string)
		if !s.tokens[old] {
			return refuse(401, "SESSION_EXPIRED")
		}
		delete(s.tokens, old)
		data = map[string]interface{}{"valid": true, "new_token": token(), "expires_at": "2999-01-01T00:00:00.000000Z"}
	default:
		return refuse(404, "NOT_FOUND")
	}
	id, _ := KeyID(s.key.Public())
	data["timestamp"] = time.Now().UTC().Format("2006-01-02T15:04:05.000000Z")
	for name, value := range map[string]interface{}{"key_id": id, "product_id": s.productID,
		"license_key": body["license_key"], "hwid": body["hwid"], "nonce": body["nonce"]} {
		data[name] = value
	}
	message, _ := CanonicalJSON(data)
	data["signature"] = base64.StdEncoding.EncodeToString(ed25519.Sign(s.key, message))
	if s.tamper != nil {
		s.tamper(data)
	}
	return 200, map[string]interface{}{"success": true, "data": data}
}

func (s *fakeServer) send(w http.ResponseWriter, status int, answer map[string]interface{}, sealed bool) {
	raw, _ := json.Marshal(answer)
	if sealed {
		envelope, _ := SealBytes(s.secret, s.productID, raw, time.Now().UnixMilli(), nil)
		raw, _ = json.Marshal(envelope)
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	w.Write(raw)
}

func (s *fakeServer) client() *Client {
	client := NewClient(s.URL, s.productID, s.secret)
	client.AutoHeartbeat = false
	client.HWID = "device-1"
	return client
}

func code(err error) string {
	var apiErr *Error
	if errors.As(err, &apiErr) {
		return apiErr.Code
	}
	return ""
}

func TestLifecyclePlainAndEncrypted(t *testing.T) {
	for _, encrypted := range []bool{false, true} {
		server := newFakeServer(t)
		client := server.client()
		client.UseEncryption = encrypted
		var violations int32
		client.OnSecurityViolation = func(map[string]interface{}) { atomic.AddInt32(&violations, 1) }
		if _, err := client.Activate("GOOD-KEY", ""); err != nil {
			t.Fatal(err)
		}
		first := client.SessionToken()
		if _, err := client.Validate("", ""); err != nil {
			t.Fatal(err)
		}
		beat, err := client.Heartbeat("", "")
		if err != nil || beat["new_token"] != client.SessionToken() || client.SessionToken() == first {
			t.Fatalf("heartbeat did not rotate the token: %v %v", beat, err)
		}
		if _, err := client.Deactivate("", ""); err != nil || client.SessionToken() != "" {
			t.Fatalf("deactivate: %v", err)
		}
		if _, err := client.Heartbeat("", ""); code(err) != "NOT_ACTIVATED" {
			t.Fatalf("heartbeat without a session: %v", err)
		}
		if violations != 0 {
			t.Fatalf("%d violations in a clean run", violations)
		}
	}
}

func TestRefusalCarriesCodeAndStatus(t *testing.T) {
	_, err := newFakeServer(t).client().Validate("BAD-KEY", "")
	var apiErr *Error
	if !errors.As(err, &apiErr) || apiErr.Code != "LICENSE_NOT_FOUND" || apiErr.Status != 404 {
		t.Fatalf("got %v", err)
	}
}

func TestTamperedOrUnsignedAnswerIsRefused(t *testing.T) {
	for name, tamper := range map[string]func(map[string]interface{}){
		"changed":  func(d map[string]interface{}) { d["watermark"] = "ffffffffffffffffffffffffffffffff" },
		"unsigned": func(d map[string]interface{}) { delete(d, "signature") },
	} {
		server := newFakeServer(t)
		server.tamper = tamper
		client := server.client()
		var sources []interface{}
		client.OnSecurityViolation = func(d map[string]interface{}) { sources = append(sources, d["source"]) }
		_, err := client.Validate("GOOD-KEY", "")
		var apiErr *Error
		if !errors.As(err, &apiErr) || apiErr.Code != "SECURITY_VIOLATION" || apiErr.Status != 0 {
			t.Fatalf("%s: got %v", name, err)
		}
		if len(sources) != 1 || sources[0] != "client" {
			t.Fatalf("%s: violations %v", name, sources)
		}
	}
}

func TestPinnedKeyMismatchSendsNothing(t *testing.T) {
	server := newFakeServer(t)
	client := server.client()
	client.PinnedKeyID = "0000000000000000"
	if err := client.Initialize(); code(err) != "SECURITY_VIOLATION" {
		t.Fatalf("initialize: %v", err)
	}
	if _, err := client.Activate("GOOD-KEY", ""); code(err) != "SECURITY_VIOLATION" {
		t.Fatalf("activate: %v", err)
	}
	if server.posts != 0 {
		t.Fatalf("%d license requests reached an unpinned server", server.posts)
	}
	pinned := server.client()
	pinned.PinnedPublicKey = server.publicPEM()
	if _, err := pinned.Activate("GOOD-KEY", ""); err != nil {
		t.Fatalf("the right pin: %v", err)
	}
}

func TestWrongSecretIsTheServersViolation(t *testing.T) {
	server := newFakeServer(t)
	client := server.client()
	client.SecretKey, client.UseEncryption = "sk_live_wrong", true
	var sources []interface{}
	client.OnSecurityViolation = func(d map[string]interface{}) { sources = append(sources, d["source"]) }
	_, err := client.Activate("GOOD-KEY", "")
	var apiErr *Error
	if !errors.As(err, &apiErr) || apiErr.Code != "SECURITY_VIOLATION" || apiErr.Status != 403 || len(sources) != 1 || sources[0] != "server" {
		t.Fatalf("got %v, violations %v", err, sources)
	}
}

func TestAutoHeartbeatRotatesAndSuspensionEndsTheSessionOnce(t *testing.T) {
	server := newFakeServer(t)
	client := server.client()
	client.AutoHeartbeat, client.HeartbeatInterval = true, 30*time.Millisecond
	var expired int32
	client.OnSessionExpired = func() { atomic.AddInt32(&expired, 1) }
	if _, err := client.Activate("GOOD-KEY", ""); err != nil {
		t.Fatal(err)
	}
	seen := map[string]bool{}
	for deadline := time.Now().Add(3 * time.Second); len(seen) < 3 && time.Now().Before(deadline); time.Sleep(5 * time.Millisecond) {
		seen[client.SessionToken()] = true
	}
	if len(seen) < 3 {
		t.Fatalf("tokens did not rotate: %v", seen)
	}
	server.mu.Lock()
	server.suspended = true
	server.mu.Unlock()
	for deadline := time.Now().Add(3 * time.Second); atomic.LoadInt32(&expired) == 0 && time.Now().Before(deadline); {
		time.Sleep(5 * time.Millisecond)
	}
	time.Sleep(150 * time.Millisecond)
	if atomic.LoadInt32(&expired) != 1 || client.SessionToken() != "" || client.HeartbeatRunning() {
		t.Fatalf("expired %d times, token %q, running %v", expired, client.SessionToken(), client.HeartbeatRunning())
	}
}

func TestNoAnswerIsANetworkError(t *testing.T) {
	listener, _ := net.Listen("tcp", "127.0.0.1:0")
	address := listener.Addr().String()
	listener.Close()
	if err := NewClient("http://"+address, "p", "").Initialize(); code(err) != "NETWORK_ERROR" {
		t.Fatalf("got %v", err)
	}
}

func TestBaseURLWithOrWithoutAPI(t *testing.T) {
	for _, base := range []string{"http://h:1", "http://h:1/", "http://h:1/api", "http://h:1/api/"} {
		if got := apiURL(base); got != "http://h:1/api" {
			t.Errorf("%s -> %s", base, got)
		}
	}
}
