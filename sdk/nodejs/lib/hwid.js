'use strict';
/**
 * A hardware id that is the same on every call, in every process and in every KeyLedger SDK on one
 * machine: SHA-256 of the OS machine id (Linux /etc/machine-id, Windows MachineGuid, macOS
 * IOPlatformUUID), else of the host name, the first real MAC address and the architecture.
 */
const crypto = require('crypto');
const fs = require('fs');
const os = require('os');
const { execFileSync } = require('child_process');

const PREFIX = 'licensecm-hwid:v1:';
let cached = null;

const hash = (...parts) => crypto.createHash('sha256').update(PREFIX + parts.join('|'), 'utf8').digest('hex');

/** The HWID every KeyLedger SDK derives from one OS machine id (sdk/conformance/vectors/hwid.json). */
function hwidFromMachineId(machineId) {
  return hash('machine-id', machineId.trim().toLowerCase());
}

function linuxMachineId() {
  for (const path of ['/etc/machine-id', '/var/lib/dbus/machine-id']) {
    try {
      const value = fs.readFileSync(path, 'ascii').trim();
      if (value) return value;
    } catch (error) { /* try the next one */ }
  }
  return null;
}

function windowsMachineGuid() {
  if (process.platform !== 'win32') return null;
  const output = execFileSync('reg', ['query', 'HKLM\\SOFTWARE\\Microsoft\\Cryptography', '/v', 'MachineGuid',
    '/reg:64'], { encoding: 'utf8', timeout: 5000, windowsHide: true });
  const match = /MachineGuid\s+REG_SZ\s+(\S+)/.exec(output);
  return match ? match[1] : null;
}

function macosPlatformUuid() {
  if (process.platform !== 'darwin') return null;
  const output = execFileSync('ioreg', ['-rd1', '-c', 'IOPlatformExpertDevice'], { encoding: 'utf8', timeout: 5000 });
  const match = /"IOPlatformUUID"\s*=\s*"([^"]+)"/.exec(output);
  return match ? match[1] : null;
}

function machineId() {
  for (const read of [linuxMachineId, windowsMachineGuid, macosPlatformUuid]) {
    let value = null;
    try {
      value = read();
    } catch (error) { /* any platform oddity means: try the next source */ }
    if (value && value.trim().replace(/[0-]/g, '')) return value; // an all-zero id is a placeholder
  }
  return null;
}

function firstMac() {
  for (const addresses of Object.values(os.networkInterfaces())) {
    for (const address of addresses || []) {
      if (!address.internal && address.mac && address.mac !== '00:00:00:00:00:00') return address.mac.replace(/:/g, '');
    }
  }
  return '';
}

/** 64 hex characters; computed once per process. */
function getHwid() {
  if (cached === null) {
    const id = machineId();
    cached = id ? hwidFromMachineId(id) : hash('host', os.hostname(), firstMac(), os.arch());
  }
  return cached;
}

module.exports = { getHwid, hwidFromMachineId };
