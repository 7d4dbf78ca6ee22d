package licensecm

import (
	"crypto"
	"crypto/aes"
	"crypto/cipher"
	"crypto/ed25519"
	"crypto/hmac"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"math"
	"regexp"
	"strings"
	"time"
)

const (
	ivBytes    = 16
	tagBytes   = 16
	minRSABits = 2048
	// MaxClockSkew is how far the server's time and ours may be apart, both ways.
	MaxClockSkew = 5 * time.Minute
)

// BoundFields are the request fields a signed answer repeats; each must be there and equal ours.
var BoundFields = []string{"product_id", "license_key", "hwid"}

// ErrEnvelope is wrapped by every error OpenEnvelope returns.
var ErrEnvelope = errors.New("licensecm: envelope refused")

// LoadPublicKey parses a SubjectPublicKeyInfo PEM as served by GET /api/client/public-key:
// RSA (at least 2048 bits) or Ed25519.
func LoadPublicKey(pemText string) (crypto.PublicKey, error) {
	block, _ := pem.Decode([]byte(pemText))
	if block == nil || block.Type != "PUBLIC KEY" {
		return nil, errors.New("licensecm: not a PUBLIC KEY PEM")
	}
	key, err := x509.ParsePKIXPublicKey(block.Bytes)
	if err != nil {
		return nil, err
	}
	switch k := key.(type) {
	case ed25519.PublicKey:
		return k, nil
	case *rsa.PublicKey:
		if k.N.BitLen() >= minRSABits {
			return k, nil
		}
	}
	return nil, fmt.Errorf("licensecm: unsupported signing key %T: only RSA and Ed25519", key)
}

// KeyID is the first 16 hex of SHA-256 over the key's DER SubjectPublicKeyInfo.
func KeyID(key crypto.PublicKey) (string, error) {
	der, err := x509.MarshalPKIXPublicKey(key)
	if err != nil {
		return "", err
	}
	sum := sha256.Sum256(der)
	return hex.EncodeToString(sum[:])[:16], nil
}

// AnswerMessage is what an answer's signature covers: canonical JSON of data without "signature".
func AnswerMessage(data map[string]interface{}) ([]byte, error) {
	signed := make(map[string]interface{}, len(data))
	for name, value := range data {
		if name != "signature" {
			signed[name] = value
		}
	}
	return CanonicalJSON(signed)
}

// VerifyAnswerSignature is true only when data["signature"] is a valid signature of data by key
// (RSA PKCS#1 v1.5 over SHA-256, or Ed25519).
func VerifyAnswerSignature(key crypto.PublicKey, data map[string]interface{}) bool {
	text, ok := data["signature"].(string)
	if !ok {
		return false
	}
	signature, err := base64.StdEncoding.Strict().DecodeString(text)
	if err != nil {
		return false
	}
	message, err := AnswerMessage(data)
	if err != nil {
		return false
	}
	switch k := key.(type) {
	case ed25519.PublicKey:
		return ed25519.Verify(k, message, signature)
	case *rsa.PublicKey:
		digest := sha256.Sum256(message)
		return rsa.VerifyPKCS1v15(k, crypto.SHA256, digest[:], signature) == nil
	}
	return false
}

// Expectation is what a client knows about the answer it waits for.
type Expectation struct {
	KeyID        string
	Nonce        string
	Now          time.Time
	MaxClockSkew time.Duration
	Request      map[string]interface{} // product_id, license_key, hwid as sent
}

// CheckAnswer says why a successful answer must be refused, or "" when it may be trusted: a valid
// signature by key, that key's id, this request's nonce, a server time within the allowed skew,
// and the product, license key and device of the request.
func CheckAnswer(key crypto.PublicKey, data map[string]interface{}, expect Expectation) string {
	if data == nil {
		return "the answer is not signed"
	}
	if _, ok := data["signature"]; !ok {
		return "the answer is not signed"
	}
	if !VerifyAnswerSignature(key, data) {
		return "the answer's signature does not verify"
	}
	if id, _ := data["key_id"].(string); id != expect.KeyID {
		return "the answer names another signing key"
	}
	if nonce, _ := data["nonce"].(string); nonce != expect.Nonce || expect.Nonce == "" {
		return "the answer does not echo this request's nonce (replayed answer?)"
	}
	stamp, _ := data["timestamp"].(string)
	serverTime, err := time.Parse(time.RFC3339Nano, stamp)
	if err != nil {
		return "the answer has no valid timestamp"
	}
	skew := expect.Now.Sub(serverTime)
	if skew < 0 {
		skew = -skew
	}
	if skew > expect.MaxClockSkew {
		return "the answer's timestamp is too far from the local clock"
	}
	for _, name := range BoundFields {
		got, ok := data[name].(string)
		want, _ := expect.Request[name].(string)
		if !ok || !strings.EqualFold(got, want) {
			return "the answer is about another " + name
		}
	}
	return ""
}

// --- the envelope -------------------------------------------------------------------------------

// Envelope is the encrypted form of a request or answer body.
type Envelope struct {
	Encrypted bool   `json:"encrypted"`
	IV        string `json:"iv"`
	Data      string `json:"data"`
	Tag       string `json:"tag"`
	Signature string `json:"signature"`
	ProductID string `json:"product_id"`
	Timestamp int64  `json:"timestamp"`
}

func envelopeGCM(secretKey string) cipher.AEAD {
	key := sha256.Sum256([]byte(secretKey))
	block, _ := aes.NewCipher(key[:]) // a 32-byte key never fails
	aead, _ := cipher.NewGCMWithNonceSize(block, ivBytes)
	return aead
}

// EnvelopeHMAC is hex HMAC-SHA256(secret key, iv:data:tag:timestamp) over the strings as sent.
func EnvelopeHMAC(secretKey, iv, data, tag string, timestamp int64) string {
	mac := hmac.New(sha256.New, []byte(secretKey))
	fmt.Fprintf(mac, "%s:%s:%s:%d", iv, data, tag, timestamp)
	return hex.EncodeToString(mac.Sum(nil))
}

// SealBytes encrypts plaintext. Pass iv and timestampMs only to reproduce a test vector (nil iv: random).
func SealBytes(secretKey, productID string, plaintext []byte, timestampMs int64, iv []byte) (Envelope, error) {
	if iv == nil {
		iv = make([]byte, ivBytes)
		if _, err := rand.Read(iv); err != nil {
			return Envelope{}, err
		}
	}
	if len(iv) != ivBytes {
		return Envelope{}, fmt.Errorf("licensecm: the iv must be %d bytes", ivBytes)
	}
	sealed := envelopeGCM(secretKey).Seal(nil, iv, plaintext, nil)
	ivHex := hex.EncodeToString(iv)
	data := hex.EncodeToString(sealed[:len(sealed)-tagBytes])
	tag := hex.EncodeToString(sealed[len(sealed)-tagBytes:])
	return Envelope{Encrypted: true, IV: ivHex, Data: data, Tag: tag, ProductID: productID, Timestamp: timestampMs,
		Signature: EnvelopeHMAC(secretKey, ivHex, data, tag, timestampMs)}, nil
}

var hexText = regexp.MustCompile(`^[0-9a-fA-F]*$`)

func hexField(envelope map[string]interface{}, name string, length int) (string, error) {
	value, ok := envelope[name].(string)
	if !ok || !hexText.MatchString(value) || len(value)%2 != 0 {
		return "", fmt.Errorf("%w: field %s is not hex", ErrEnvelope, name)
	}
	if length > 0 && len(value) != length {
		return "", fmt.Errorf("%w: field %s has the wrong length", ErrEnvelope, name)
	}
	return value, nil
}

// OpenEnvelope checks an envelope (as decoded JSON) in the server's order, shape, HMAC, clock,
// GCM, JSON, and returns the JSON object inside. Every refusal wraps ErrEnvelope.
func OpenEnvelope(secretKey string, envelope map[string]interface{}, now time.Time, maxSkew time.Duration) (map[string]interface{}, error) {
	if encrypted, _ := envelope["encrypted"].(bool); !encrypted {
		return nil, fmt.Errorf("%w: not an encrypted envelope", ErrEnvelope)
	}
	fields := make([]string, 4)
	for i, spec := range []struct {
		name   string
		length int
	}{{"iv", ivBytes * 2}, {"data", 0}, {"tag", tagBytes * 2}, {"signature", 64}} {
		value, err := hexField(envelope, spec.name, spec.length)
		if err != nil {
			return nil, err
		}
		fields[i] = value
	}
	iv, data, tag, signature := fields[0], fields[1], fields[2], fields[3]
	number, ok := envelope["timestamp"].(float64)
	if !ok || number != math.Trunc(number) || math.Abs(number) > 1<<53 {
		return nil, fmt.Errorf("%w: the timestamp is not an integer", ErrEnvelope)
	}
	timestamp := int64(number)
	expected, _ := hex.DecodeString(EnvelopeHMAC(secretKey, iv, data, tag, timestamp))
	given, _ := hex.DecodeString(signature)
	if !hmac.Equal(expected, given) {
		return nil, fmt.Errorf("%w: the HMAC does not match", ErrEnvelope)
	}
	skew := now.UnixMilli() - timestamp
	if skew < 0 {
		skew = -skew
	}
	if skew > maxSkew.Milliseconds() {
		return nil, fmt.Errorf("%w: the timestamp is outside the allowed clock skew", ErrEnvelope)
	}
	ivRaw, _ := hex.DecodeString(iv)
	sealed, _ := hex.DecodeString(data + tag)
	plaintext, err := envelopeGCM(secretKey).Open(nil, ivRaw, sealed, nil)
	if err != nil {
		return nil, fmt.Errorf("%w: it does not decrypt", ErrEnvelope)
	}
	var payload map[string]interface{}
	if err := json.Unmarshal(plaintext, &payload); err != nil || payload == nil {
		return nil, fmt.Errorf("%w: the plaintext is not a JSON object", ErrEnvelope)
	}
	return payload, nil
}

// ChallengeResponse is hex HMAC-SHA256(secret key, challenge + licenseKey + hwid).
func ChallengeResponse(secretKey, challenge, licenseKey, hwid string) string {
	mac := hmac.New(sha256.New, []byte(secretKey))
	mac.Write([]byte(challenge + licenseKey + hwid))
	return hex.EncodeToString(mac.Sum(nil))
}
