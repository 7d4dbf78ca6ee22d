'use strict';
/**
 * LicenseCM Node.js SDK for KeyLedger: activate, validate, keep alive and deactivate a license.
 * Every successful answer is verified before you see it (signature, pinned key id, this request's
 * nonce, server time, and the product, key and device it is about): the SDK fails closed.
 */
const crypto = require('crypto');
const { EventEmitter } = require('events');
const http = require('http');
const https = require('https');
const os = require('os');

const protocol = require('./lib/protocol');
const { LicenseCMError } = require('./lib/errors');
const { getHwid, hwidFromMachineId } = require('./lib/hwid');

const VERSION = '0.1.0';
const MAX_ANSWER_BYTES = 1000000;
const HEARTBEAT_RETRY_MS = 30000;
/** Heartbeat refusals after which the session cannot continue: onSessionExpired is called. */
const SESSION_ENDING_CODES = new Set(['SESSION_EXPIRED', 'LICENSE_SUSPENDED', 'LICENSE_EXPIRED', 'LICENSE_NOT_FOUND',
  'HWID_MISMATCH', 'PRODUCT_NOT_FOUND', 'BLACKLISTED', 'SECURITY_VIOLATION']);

/** The default transport: node's http/https. Resolves {status, body} for any answer, rejects when there is none. */
function nodeTransport(method, url, body, headers, timeoutMs) {
  return new Promise((resolve, reject) => {
    const target = new URL(url);
    const request = (target.protocol === 'https:' ? https : http).request(target, { method, headers, timeout: timeoutMs },
      (response) => {
        const chunks = [];
        let size = 0;
        response.on('data', (chunk) => {
          size += chunk.length;
          if (size > MAX_ANSWER_BYTES) request.destroy(new Error('answer too large'));
          else chunks.push(chunk);
        });
        response.on('end', () => resolve({ status: response.statusCode, body: Buffer.concat(chunks) }));
        response.on('error', reject);
      });
    request.on('timeout', () => request.destroy(new Error(`no answer within ${timeoutMs} ms`)));
    request.on('error', reject);
    request.end(body || undefined);
  });
}

function apiUrl(baseUrl) {
  const url = String(baseUrl || '').trim().replace(/\/+$/, '');
  if (!/^https?:\/\//i.test(url)) throw new TypeError(`baseUrl must be an http(s) URL, not ${JSON.stringify(baseUrl)}`);
  return url.endsWith('/api') ? url : `${url}/api`;
}

class LicenseCM extends EventEmitter {
  /**
   * @param {object} options see index.d.ts: baseUrl, productId, secretKey, useEncryption, autoHeartbeat,
   *   heartbeatInterval (ms), onSessionExpired, onSecurityViolation, onHeartbeatFailed, pinnedPublicKey,
   *   pinnedKeyId, hwid, timeout (ms), maxClockSkew (ms), transport.
   */
  constructor(options = {}) {
    super();
    this.apiUrl = apiUrl(options.baseUrl);
    if (!options.productId) throw new TypeError('productId is required');
    this.productId = String(options.productId);
    this.secretKey = options.secretKey || null;
    this.useEncryption = Boolean(options.useEncryption);
    if (this.useEncryption && !this.secretKey) throw new TypeError('useEncryption needs the product secretKey');
    this.autoHeartbeat = options.autoHeartbeat !== false;
    this.heartbeatInterval = options.heartbeatInterval || 5 * 60 * 1000;
    if (!(this.heartbeatInterval > 0)) throw new RangeError('heartbeatInterval must be positive (ms)');
    this.onSessionExpired = options.onSessionExpired || null;
    this.onSecurityViolation = options.onSecurityViolation || null;
    this.onHeartbeatFailed = options.onHeartbeatFailed || null;
    this.timeout = options.timeout || 10000;
    this.maxClockSkew = options.maxClockSkew || protocol.MAX_SKEW_MS;
    this.hwid = options.hwid || getHwid();
    this.transport = options.transport || nodeTransport;

    this.pinnedKeyId = options.pinnedKeyId ? String(options.pinnedKeyId).toLowerCase() : null;
    this.pinnedPublicKey = null;
    if (options.pinnedPublicKey) {
      this.pinnedPublicKey = protocol.loadPublicKey(options.pinnedPublicKey); // a bad pin is a bug: throw now
      const id = protocol.keyId(this.pinnedPublicKey);
      if (this.pinnedKeyId && this.pinnedKeyId !== id) throw new TypeError('pinnedKeyId does not belong to pinnedPublicKey');
      this.pinnedKeyId = id;
    }

    this.publicKey = null;
    this.publicKeyId = null;
    this.licenseKey = null;
    this.sessionToken = null;
    this.sessionExpires = null;
    this.sessionHwid = null;
    this.heartbeatTimer = null;
    this.sessionEndReported = false;
    this.beating = Promise.resolve(); // heartbeats run one at a time: each one rotates the token
  }

  /** The HWID of this machine (same as getHwid()). */
  static generateHwid() {
    return getHwid();
  }

  // --- the API ---------------------------------------------------------------------------------

  /** Fetch the product's public key and check it against the pin. Resolves {key_id, algorithm, public_key}. */
  async initialize() {
    const { status, answer } = await this.exchange('public-key', 'GET',
      `/client/public-key?product_id=${encodeURIComponent(this.productId)}`, null);
    const data = answer.data;
    if (!data || typeof data.public_key !== 'string') {
      throw new LicenseCMError('The public key answer has no key', 'INVALID_RESPONSE', status, { answer });
    }
    let key;
    try {
      key = protocol.loadPublicKey(data.public_key);
    } catch (error) {
      this.violation('public-key', `unusable public key: ${error.message}`);
    }
    const fetchedId = protocol.keyId(key);
    if (data.key_id !== fetchedId) this.violation('public-key', 'the served key_id does not match the served key');
    if (this.pinnedKeyId !== null && fetchedId !== this.pinnedKeyId) {
      this.violation('public-key', "the server's public key is not the pinned key");
    }
    this.publicKey = this.pinnedPublicKey || key;
    this.publicKeyId = fetchedId;
    return { key_id: fetchedId, algorithm: data.algorithm, public_key: data.public_key };
  }

  /** Bind this device to the license and open a session; starts the automatic heartbeat. */
  async activate(licenseKey, hwid = null, clientData = null) {
    const device = hwid || this.hwid;
    const data = await this.signedCall('activate', { license_key: licenseKey, hwid: device,
      client_data: this.clientData(clientData) });
    if (data.activated !== true || !data.session || typeof data.session.token !== 'string') {
      throw new LicenseCMError('The activation answer has no session', 'INVALID_RESPONSE', null, { data });
    }
    this.stopHeartbeat();
    Object.assign(this, { licenseKey, sessionHwid: device, sessionToken: data.session.token,
      sessionExpires: data.session.expires_at || null, sessionEndReported: false });
    if (this.autoHeartbeat) this.startHeartbeat();
    return data;
  }

  /** Check the license on this device (default: the activated key). */
  async validate(licenseKey = null, hwid = null, clientData = null) {
    const data = await this.signedCall('validate', { license_key: this.keyOrActivated(licenseKey),
      hwid: hwid || this.sessionHwid || this.hwid, client_data: this.clientData(clientData) });
    if (data.valid !== true) throw new LicenseCMError('The license is not valid', 'INVALID_RESPONSE', null, { data });
    return data;
  }

  /** Keep the session alive and take the rotated token. A session-ending refusal calls onSessionExpired once. */
  heartbeat() {
    const run = this.beating.then(() => this.beatOnce());
    this.beating = run.catch(() => {});
    return run;
  }

  async beatOnce() {
    const token = this.sessionToken;
    if (token === null || this.licenseKey === null) {
      throw new LicenseCMError('No active session: call activate() first', 'NOT_ACTIVATED');
    }
    let data;
    try {
      data = await this.signedCall('heartbeat', { license_key: this.licenseKey, hwid: this.sessionHwid,
        session_token: token });
    } catch (error) {
      if (SESSION_ENDING_CODES.has(error.code)) this.endSession(token);
      throw error;
    }
    if (data.valid !== true || typeof data.new_token !== 'string' || !data.new_token) {
      throw new LicenseCMError('The heartbeat answer has no new token', 'INVALID_RESPONSE', null, { data });
    }
    if (this.sessionToken === token) { // not ended or replaced meanwhile
      this.sessionToken = data.new_token;
      this.sessionExpires = data.expires_at || this.sessionExpires;
    }
    this.emit('heartbeat', data);
    return data;
  }

  /** Free this device's seat and end the session. */
  async deactivate(licenseKey = null, hwid = null) {
    const key = this.keyOrActivated(licenseKey);
    const ours = key === this.licenseKey;
    if (ours) this.stopHeartbeat();
    let data;
    try {
      data = await this.signedCall('deactivate', { license_key: key, hwid: hwid || this.sessionHwid || this.hwid });
    } catch (error) {
      if (ours && this.sessionToken !== null && this.autoHeartbeat) this.startHeartbeat(); // the session lives on
      throw error;
    }
    if (data.deactivated !== true) {
      throw new LicenseCMError('The deactivation answer is not a deactivation', 'INVALID_RESPONSE', null, { data });
    }
    if (ours) Object.assign(this, { sessionToken: null, sessionExpires: null, sessionEndReported: true });
    return data;
  }

  /** Validate by challenge-response: proves this client holds the product secret. */
  async challenge(licenseKey = null) {
    if (!this.secretKey) throw new TypeError('challenge() needs the product secretKey');
    const key = this.keyOrActivated(licenseKey);
    const hwid = this.sessionHwid || this.hwid;
    await this.ensureInitialized();
    const { answer } = await this.exchange('challenge', 'POST', '/client/challenge',
      { license_key: key, hwid, product_id: this.productId });
    const challenge = answer.data && answer.data.challenge;
    if (typeof challenge !== 'string') {
      throw new LicenseCMError('The challenge answer has no challenge', 'INVALID_RESPONSE', null, { answer });
    }
    const response = protocol.challengeResponse(this.secretKey, challenge, key, hwid);
    const data = await this.signedCall('challenge', { license_key: key, hwid, challenge, response });
    if (data.valid !== true) throw new LicenseCMError('The license is not valid', 'INVALID_RESPONSE', null, { data });
    return data;
  }

  startHeartbeat() {
    this.stopHeartbeat();
    const schedule = (delay) => {
      this.heartbeatTimer = setTimeout(async () => {
        try {
          await this.heartbeat();
          schedule(this.heartbeatInterval);
        } catch (error) {
          if (SESSION_ENDING_CODES.has(error.code) || error.code === 'NOT_ACTIVATED') {
            this.heartbeatTimer = null;
            return;
          }
          this.emit('heartbeatFailed', error);
          if (this.onHeartbeatFailed) this.safely(this.onHeartbeatFailed, error);
          if (this.heartbeatTimer !== null) schedule(Math.min(this.heartbeatInterval, HEARTBEAT_RETRY_MS));
        }
      }, delay);
      this.heartbeatTimer.unref(); // the heartbeat never keeps a finished program alive
    };
    schedule(this.heartbeatInterval);
  }

  stopHeartbeat() {
    if (this.heartbeatTimer !== null) clearTimeout(this.heartbeatTimer);
    this.heartbeatTimer = null;
  }

  isSessionValid() {
    return this.sessionToken !== null && (this.sessionExpires === null || Date.parse(this.sessionExpires) > Date.now());
  }

  getSessionInfo() {
    return { token: this.sessionToken, expires: this.sessionExpires, isValid: this.isSessionValid(),
      licenseKey: this.licenseKey, hwid: this.sessionHwid || this.hwid };
  }

  /** Stop the heartbeat. The seat stays taken: call deactivate() to free it. */
  destroy() {
    this.stopHeartbeat();
  }

  // --- requests and checks ---------------------------------------------------------------------

  async ensureInitialized() {
    if (this.publicKey === null) await this.initialize();
  }

  async signedCall(action, fields) {
    await this.ensureInitialized();
    const nonce = crypto.randomBytes(16).toString('hex');
    const body = { ...fields, product_id: this.productId, nonce };
    const { answer } = await this.exchange(action, 'POST', `/client/${action}`, body);
    const reason = protocol.checkAnswer(this.publicKey, this.publicKeyId, answer.data,
      { nonce, maxSkewMs: this.maxClockSkew, request: body });
    if (reason !== null) this.violation(action, reason);
    return answer.data;
  }

  async exchange(action, method, path, body) {
    const sealed = this.useEncryption && body !== null;
    let payload = null;
    if (body !== null) {
      payload = Buffer.from(JSON.stringify(sealed ? protocol.sealEnvelope(this.secretKey, this.productId, body) : body));
    }
    const headers = { Accept: 'application/json', 'User-Agent': `licensecm-node/${VERSION}` };
    if (payload !== null) Object.assign(headers, { 'Content-Type': 'application/json', 'Content-Length': payload.length });
    let status;
    let raw;
    try {
      ({ status, body: raw } = await this.transport(method, this.apiUrl + path, payload, headers, this.timeout));
    } catch (error) {
      throw new LicenseCMError(`No answer from the license server: ${error.message}`, 'NETWORK_ERROR', null,
        { action, error: String(error) });
    }
    let answer;
    try {
      answer = JSON.parse(Buffer.from(raw).toString('utf8'));
    } catch (error) {
      throw new LicenseCMError(`The license server's answer is not JSON (HTTP ${status})`, 'INVALID_RESPONSE', status,
        { action });
    }
    if (sealed) answer = this.open(action, answer);
    if (answer === null || typeof answer !== 'object' || Array.isArray(answer)) {
      throw new LicenseCMError(`Unexpected answer (HTTP ${status})`, 'INVALID_RESPONSE', status, { action });
    }
    if (answer.success !== true) this.refused(action, status, answer);
    return { status, answer };
  }

  open(action, answer) {
    if (answer && answer.encrypted === true) {
      if (String(answer.product_id || '').toLowerCase() !== this.productId.toLowerCase()) {
        this.violation(action, 'the encrypted answer is for another product');
      }
      try {
        return protocol.openEnvelope(this.secretKey, answer, Date.now(), this.maxClockSkew);
      } catch (error) {
        this.violation(action, `the encrypted answer failed its checks: ${error.message}`);
      }
    }
    // The server answers a refused envelope in plain JSON (it cannot know whether the sender holds
    // the secret). A refusal grants nothing, so it is safe to read; a plain success is a downgrade.
    if (answer && answer.success === false) return answer;
    return this.violation(action, 'an encrypted request got an unencrypted answer');
  }

  refused(action, status, answer) {
    const code = typeof answer.error_code === 'string' ? answer.error_code : 'HTTP_ERROR';
    const message = typeof answer.message === 'string' ? answer.message : `HTTP ${status}`;
    if (code === 'SECURITY_VIOLATION' || answer.security_blocked) {
      this.report({ source: 'server', action, reason: message, code, status,
        ...(answer.security_details ? { security_details: answer.security_details } : {}) });
    }
    throw new LicenseCMError(message, code, status, { ...answer, action });
  }

  violation(action, reason) {
    const details = { source: 'client', action, reason };
    this.report(details);
    throw new LicenseCMError(`Security violation: ${reason}`, 'SECURITY_VIOLATION', null, details);
  }

  report(details) {
    this.emit('securityViolation', details);
    if (this.onSecurityViolation) this.safely(this.onSecurityViolation, details);
  }

  endSession(token) {
    if (this.sessionToken !== token && this.sessionToken !== null) return; // a newer activation replaced it
    this.sessionToken = null;
    this.sessionExpires = null;
    this.stopHeartbeat();
    if (this.sessionEndReported) return;
    this.sessionEndReported = true;
    this.emit('sessionExpired');
    if (this.onSessionExpired) this.safely(this.onSessionExpired);
  }

  safely(callback, ...args) {
    try {
      callback(...args);
    } catch (error) { /* a callback's own failure must not hide what happened */ }
  }

  keyOrActivated(licenseKey) {
    const key = licenseKey || this.licenseKey;
    if (!key) throw new LicenseCMError('No license key: pass one or call activate() first', 'NOT_ACTIVATED');
    return key;
  }

  clientData(extra) {
    return { platform: process.platform.slice(0, 100), os_version: os.release().slice(0, 100), vm_indicators: [],
      debug_indicators: [], ...(extra || {}) };
  }
}

module.exports = LicenseCM;
module.exports.LicenseCM = LicenseCM;
module.exports.default = LicenseCM;
module.exports.LicenseCMError = LicenseCMError;
module.exports.SESSION_ENDING_CODES = SESSION_ENDING_CODES;
module.exports.getHwid = getHwid;
module.exports.hwidFromMachineId = hwidFromMachineId;
module.exports.nodeTransport = nodeTransport;
module.exports.protocol = protocol;
module.exports.VERSION = VERSION;
