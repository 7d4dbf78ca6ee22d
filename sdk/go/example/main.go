// The conformance example: `example STEP...`, one JSON line per step (sdk/conformance/README.md).
// Reads BASE_URL, PRODUCT_ID, SECRET_KEY, LICENSE_KEY, USE_ENCRYPTION, PINNED_KEY_ID,
// PINNED_PUBLIC_KEY, HWID, HEARTBEAT_INTERVAL_MS and WAIT_MS from the environment.
package main

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"os"
	"strconv"
	"sync"
	"time"

	licensecm "github.com/keyledger/licensecm-go"
)

var printing sync.Mutex

func emit(line map[string]interface{}) {
	printing.Lock()
	defer printing.Unlock()
	text, _ := json.Marshal(line)
	os.Stdout.Write(append(text, '\n'))
}

// fingerprint: session tokens are credentials, so print only enough of their hash to see them change.
func fingerprint(token interface{}) string {
	text, _ := token.(string)
	sum := sha256.Sum256([]byte(text))
	return hex.EncodeToString(sum[:])[:12]
}

func main() {
	intervalMs, _ := strconv.Atoi(os.Getenv("HEARTBEAT_INTERVAL_MS"))
	waitMs, err := strconv.Atoi(os.Getenv("WAIT_MS"))
	if err != nil {
		waitMs = 10000
	}
	licenseKey := os.Getenv("LICENSE_KEY")
	expired := make(chan struct{}, 1)

	client := licensecm.NewClient(os.Getenv("BASE_URL"), os.Getenv("PRODUCT_ID"), os.Getenv("SECRET_KEY"))
	client.UseEncryption = os.Getenv("USE_ENCRYPTION") == "1"
	client.AutoHeartbeat = intervalMs > 0
	client.HeartbeatInterval = time.Duration(intervalMs) * time.Millisecond
	client.PinnedKeyID = os.Getenv("PINNED_KEY_ID")
	client.PinnedPublicKey = os.Getenv("PINNED_PUBLIC_KEY")
	client.HWID = os.Getenv("HWID")
	client.OnSessionExpired = func() {
		emit(map[string]interface{}{"event": "session_expired"})
		expired <- struct{}{}
	}
	client.OnSecurityViolation = func(details map[string]interface{}) {
		emit(map[string]interface{}{"event": "security_violation", "source": details["source"], "action": details["action"]})
	}

	steps := map[string]func() (map[string]interface{}, error){
		"initialize": func() (map[string]interface{}, error) {
			key, err := client.FetchPublicKey()
			if err != nil {
				return nil, err
			}
			return map[string]interface{}{"key_id": key["key_id"], "algorithm": key["algorithm"]}, nil
		},
		"activate": func() (map[string]interface{}, error) {
			data, err := client.Activate(licenseKey, "")
			if err != nil {
				return nil, err
			}
			return map[string]interface{}{"token": fingerprint(data["session"].(map[string]interface{})["token"])}, nil
		},
		"validate": func() (map[string]interface{}, error) {
			data, err := client.Validate(licenseKey, "")
			if err != nil {
				return nil, err
			}
			return map[string]interface{}{"watermark": data["watermark"]}, nil
		},
		"heartbeat": func() (map[string]interface{}, error) {
			data, err := client.Heartbeat("", "")
			if err != nil {
				return nil, err
			}
			return map[string]interface{}{"token": fingerprint(data["new_token"])}, nil
		},
		"challenge": func() (map[string]interface{}, error) {
			data, err := client.Challenge(licenseKey)
			if err != nil {
				return nil, err
			}
			return map[string]interface{}{"valid": data["valid"]}, nil
		},
		"deactivate": func() (map[string]interface{}, error) {
			data, err := client.Deactivate(licenseKey, "")
			if err != nil {
				return nil, err
			}
			return map[string]interface{}{"deactivated": data["deactivated"]}, nil
		},
		"hwid": func() (map[string]interface{}, error) {
			return map[string]interface{}{"hwid": licensecm.GenerateHWID()}, nil
		},
		"wait-expired": func() (map[string]interface{}, error) {
			select {
			case <-expired:
				return map[string]interface{}{}, nil
			case <-time.After(time.Duration(waitMs) * time.Millisecond):
				return nil, &licensecm.Error{Code: "TIMEOUT", Message: "OnSessionExpired was not called"}
			}
		},
	}

	for _, step := range os.Args[1:] {
		run, known := steps[step]
		if !known {
			emit(map[string]interface{}{"step": step, "ok": false, "code": "UNKNOWN_STEP"})
			continue
		}
		result, err := run()
		var apiErr *licensecm.Error
		switch {
		case err == nil:
			line := map[string]interface{}{"step": step, "ok": true}
			for name, value := range result {
				line[name] = value
			}
			emit(line)
		case errors.As(err, &apiErr):
			var status interface{}
			if apiErr.Status != 0 {
				status = apiErr.Status
			}
			emit(map[string]interface{}{"step": step, "ok": false, "code": apiErr.Code, "status": status,
				"message": apiErr.Message})
		default:
			emit(map[string]interface{}{"step": step, "ok": false, "code": "ERROR", "message": err.Error()})
		}
	}
	client.Destroy()
}
