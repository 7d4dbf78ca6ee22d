#!/usr/bin/env node
'use strict';
/**
 * The conformance example: `node example/cli.js STEP...`, one JSON line per step
 * (sdk/conformance/README.md). Reads BASE_URL, PRODUCT_ID, SECRET_KEY, LICENSE_KEY, USE_ENCRYPTION,
 * PINNED_KEY_ID, PINNED_PUBLIC_KEY, HWID, HEARTBEAT_INTERVAL_MS and WAIT_MS from the environment.
 */
const crypto = require('crypto');
const LicenseCM = require('..');

const env = process.env;
const emit = (line) => process.stdout.write(JSON.stringify(line) + '\n');
// Session tokens are credentials: print only enough of their hash to see them change.
const fingerprint = (token) => crypto.createHash('sha256').update(token).digest('hex').slice(0, 12);

let expired;
const sessionExpired = new Promise((resolve) => { expired = resolve; });
const intervalMs = Number(env.HEARTBEAT_INTERVAL_MS || 0);
const licenseKey = env.LICENSE_KEY || '';

const client = new LicenseCM({
  baseUrl: env.BASE_URL,
  productId: env.PRODUCT_ID,
  secretKey: env.SECRET_KEY || null,
  useEncryption: env.USE_ENCRYPTION === '1',
  autoHeartbeat: intervalMs > 0,
  heartbeatInterval: intervalMs || 300000,
  pinnedKeyId: env.PINNED_KEY_ID || null,
  pinnedPublicKey: env.PINNED_PUBLIC_KEY || null,
  hwid: env.HWID || null,
  onSessionExpired: () => {
    emit({ event: 'session_expired' });
    expired();
  },
  onSecurityViolation: (details) => emit({ event: 'security_violation', source: details.source, action: details.action }),
});

const steps = {
  initialize: async () => {
    const key = await client.initialize();
    return { key_id: key.key_id, algorithm: key.algorithm };
  },
  activate: async () => ({ token: fingerprint((await client.activate(licenseKey)).session.token) }),
  validate: async () => ({ watermark: (await client.validate(licenseKey)).watermark }),
  heartbeat: async () => ({ token: fingerprint((await client.heartbeat()).new_token) }),
  challenge: async () => ({ valid: (await client.challenge(licenseKey)).valid }),
  deactivate: async () => ({ deactivated: (await client.deactivate(licenseKey)).deactivated }),
  hwid: async () => ({ hwid: LicenseCM.generateHwid() }),
  'wait-expired': async () => {
    let timer;
    const timeout = new Promise((resolve) => { timer = setTimeout(resolve, Number(env.WAIT_MS || 10000), 'timeout'); });
    const outcome = await Promise.race([sessionExpired, timeout]);
    clearTimeout(timer);
    if (outcome === 'timeout') throw new LicenseCM.LicenseCMError('onSessionExpired was not called', 'TIMEOUT');
    return {};
  },
};

async function main() {
  for (const step of process.argv.slice(2)) {
    if (!steps[step]) {
      emit({ step, ok: false, code: 'UNKNOWN_STEP' });
      continue;
    }
    try {
      emit({ step, ok: true, ...(await steps[step]()) });
    } catch (error) {
      if (!(error instanceof LicenseCM.LicenseCMError)) throw error;
      emit({ step, ok: false, code: error.code, status: error.status, message: error.message });
    }
  }
  client.destroy();
}

main().catch((error) => {
  process.stderr.write(`${error.stack}\n`);
  process.exit(1);
});
