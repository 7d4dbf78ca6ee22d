package licensecm

import (
	"crypto/sha256"
	"encoding/hex"
	"net"
	"os"
	"os/exec"
	"regexp"
	"runtime"
	"strings"
	"sync"
)

const hwidPrefix = "licensecm-hwid:v1:"

var (
	hwidOnce  sync.Once
	hwidValue string
)

// GenerateHWID returns this machine's hardware id, 64 hex characters, the same in every process and
// every KeyLedger SDK: SHA-256 of the OS machine id (Linux /etc/machine-id, Windows MachineGuid,
// macOS IOPlatformUUID), else of the host name, the first real MAC address and the architecture.
func GenerateHWID() string {
	hwidOnce.Do(func() {
		if id := machineID(); id != "" {
			hwidValue = HWIDFromMachineID(id)
			return
		}
		host, _ := os.Hostname()
		hwidValue = hashParts("host", host, firstMAC(), runtime.GOARCH)
	})
	return hwidValue
}

// HWIDFromMachineID is the HWID every KeyLedger SDK derives from one OS machine id.
func HWIDFromMachineID(machineID string) string {
	return hashParts("machine-id", strings.ToLower(strings.TrimSpace(machineID)))
}

func hashParts(parts ...string) string {
	sum := sha256.Sum256([]byte(hwidPrefix + strings.Join(parts, "|")))
	return hex.EncodeToString(sum[:])
}

func machineID() string {
	for _, read := range []func() string{linuxMachineID, windowsMachineGUID, macPlatformUUID} {
		value := strings.TrimSpace(read())
		if strings.Trim(value, "0-") != "" { // an all-zero id is a placeholder
			return value
		}
	}
	return ""
}

func linuxMachineID() string {
	for _, path := range []string{"/etc/machine-id", "/var/lib/dbus/machine-id"} {
		if raw, err := os.ReadFile(path); err == nil && strings.TrimSpace(string(raw)) != "" {
			return string(raw)
		}
	}
	return ""
}

var (
	machineGUID  = regexp.MustCompile(`MachineGuid\s+REG_SZ\s+(\S+)`)
	platformUUID = regexp.MustCompile(`"IOPlatformUUID"\s*=\s*"([^"]+)"`)
)

func windowsMachineGUID() string {
	if runtime.GOOS != "windows" {
		return ""
	}
	out, err := exec.Command("reg", "query", `HKLM\SOFTWARE\Microsoft\Cryptography`, "/v", "MachineGuid", "/reg:64").Output()
	if match := machineGUID.FindSubmatch(out); err == nil && match != nil {
		return string(match[1])
	}
	return ""
}

func macPlatformUUID() string {
	if runtime.GOOS != "darwin" {
		return ""
	}
	out, err := exec.Command("ioreg", "-rd1", "-c", "IOPlatformExpertDevice").Output()
	if match := platformUUID.FindSubmatch(out); err == nil && match != nil {
		return string(match[1])
	}
	return ""
}

func firstMAC() string {
	interfaces, _ := net.Interfaces()
	for _, candidate := range interfaces {
		if candidate.Flags&net.FlagLoopback == 0 && len(candidate.HardwareAddr) > 0 &&
			candidate.HardwareAddr.String() != "00:00:00:00:00:00" {
			return strings.ReplaceAll(candidate.HardwareAddr.String(), ":", "")
		}
	}
	return ""
}
