package licensecm

import (
	"encoding/hex"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"testing"
	"time"
)

// The conformance vectors (sdk/conformance/vectors), made by KeyLedger's own code.
func load(t *testing.T, name string, into interface{}) {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join("..", "conformance", "vectors", name))
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(raw, into); err != nil {
		t.Fatal(err)
	}
}

func TestCanonicalJSON(t *testing.T) {
	var file struct {
		Cases []struct{ Name, Input, Canonical string }
	}
	load(t, "canonical.json", &file)
	for _, c := range file.Cases {
		var value interface{}
		if err := json.Unmarshal([]byte(c.Input), &value); err != nil {
			t.Fatal(err)
		}
		got, err := CanonicalJSON(value)
		if err != nil || string(got) != c.Canonical {
			t.Errorf("%s: got %s (%v), want %s", c.Name, got, err, c.Canonical)
		}
	}
}

func TestSignedAnswers(t *testing.T) {
	var file struct {
		RawKey map[string]map[string]string `json:"keys"`
		Expect struct {
			Nonce      string `json:"nonce"`
			NowMs      int64  `json:"now_ms"`
			MaxSkewMs  int64  `json:"max_skew_ms"`
			ProductID  string `json:"product_id"`
			LicenseKey string `json:"license_key"`
			HWID       string `json:"hwid"`
		} `json:"expect"`
		Cases []struct {
			Name           string                 `json:"name"`
			Key            string                 `json:"key"`
			Data           map[string]interface{} `json:"data"`
			SignatureValid bool                   `json:"signature_valid"`
			Accepted       bool                   `json:"accepted"`
		} `json:"cases"`
	}
	load(t, "answers.json", &file)
	for name, key := range file.RawKey {
		loaded, err := LoadPublicKey(key["public_key"])
		if err != nil {
			t.Fatal(err)
		}
		if id, _ := KeyID(loaded); id != key["key_id"] {
			t.Errorf("key id of %s: got %s, want %s", name, id, key["key_id"])
		}
	}
	e := file.Expect
	for _, c := range file.Cases {
		key, _ := LoadPublicKey(file.RawKey[c.Key]["public_key"])
		if got := VerifyAnswerSignature(key, c.Data); got != c.SignatureValid {
			t.Errorf("%s: signature valid %v, want %v", c.Name, got, c.SignatureValid)
		}
		reason := CheckAnswer(key, c.Data, Expectation{KeyID: file.RawKey[c.Key]["key_id"], Nonce: e.Nonce,
			Now: time.UnixMilli(e.NowMs), MaxClockSkew: time.Duration(e.MaxSkewMs) * time.Millisecond,
			Request: map[string]interface{}{"product_id": e.ProductID, "license_key": e.LicenseKey, "hwid": e.HWID}})
		if (reason == "") != c.Accepted {
			t.Errorf("%s: accepted %v (%s), want %v", c.Name, reason == "", reason, c.Accepted)
		}
	}
}

func TestEnvelopes(t *testing.T) {
	var file struct {
		Secret string `json:"secret"`
		Open   []struct {
			Name      string                 `json:"name"`
			Envelope  map[string]interface{} `json:"envelope"`
			NowMs     int64                  `json:"now_ms"`
			Opens     bool                   `json:"opens"`
			Plaintext map[string]interface{} `json:"plaintext"`
		} `json:"open"`
		Seal []struct {
			Name      string   `json:"name"`
			Secret    string   `json:"secret"`
			ProductID string   `json:"product_id"`
			IV        string   `json:"iv"`
			Timestamp int64    `json:"timestamp"`
			Plaintext string   `json:"plaintext"`
			Envelope  Envelope `json:"envelope"`
		} `json:"seal"`
	}
	load(t, "envelopes.json", &file)
	for _, c := range file.Open {
		opened, err := OpenEnvelope(file.Secret, c.Envelope, time.UnixMilli(c.NowMs), MaxClockSkew)
		if c.Opens && (err != nil || !reflect.DeepEqual(opened, c.Plaintext)) {
			t.Errorf("%s: should open, got %v %v", c.Name, opened, err)
		}
		if !c.Opens && !errors.Is(err, ErrEnvelope) {
			t.Errorf("%s: should be refused, got %v %v", c.Name, opened, err)
		}
	}
	for _, c := range file.Seal {
		iv, _ := hex.DecodeString(c.IV)
		sealed, err := SealBytes(c.Secret, c.ProductID, []byte(c.Plaintext), c.Timestamp, iv)
		if err != nil || sealed != c.Envelope {
			t.Errorf("%s: got %+v %v, want %+v", c.Name, sealed, err, c.Envelope)
		}
	}
}

func TestChallengeResponses(t *testing.T) {
	var file struct {
		Cases []struct {
			Name, Secret, Challenge, Response string
			LicenseKey                        string `json:"license_key"`
			HWID                              string `json:"hwid"`
		}
	}
	load(t, "challenges.json", &file)
	for _, c := range file.Cases {
		if got := ChallengeResponse(c.Secret, c.Challenge, c.LicenseKey, c.HWID); got != c.Response {
			t.Errorf("%s: got %s, want %s", c.Name, got, c.Response)
		}
	}
}

func TestHWIDFromMachineID(t *testing.T) {
	var file struct {
		Cases []struct {
			MachineID string `json:"machine_id"`
			HWID      string `json:"hwid"`
		}
	}
	load(t, "hwid.json", &file)
	for _, c := range file.Cases {
		if got := HWIDFromMachineID(c.MachineID); got != c.HWID {
			t.Errorf("%q: got %s, want %s", c.MachineID, got, c.HWID)
		}
	}
	if hwid := GenerateHWID(); len(hwid) != 64 || hwid != GenerateHWID() {
		t.Errorf("GenerateHWID is not a stable 64-hex value: %q", hwid)
	}
}
