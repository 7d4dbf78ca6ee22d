'use strict';
/**
 * The wire protocol with no network in it: canonical JSON, answer signatures, the envelope,
 * challenge-response. Checked against sdk/conformance/vectors (KeyLedger's own code made them).
 */
const crypto = require('crypto');

const IV_BYTES = 16;
const TAG_BYTES = 16;
const MAX_SKEW_MS = 5 * 60 * 1000;
const MIN_RSA_BITS = 2048;
const BOUND_FIELDS = ['product_id', 'license_key', 'hwid'];

class EnvelopeError extends Error {
  constructor(message) {
    super(message);
    this.name = 'EnvelopeError';
  }
}

// --- canonical JSON (RFC 8785) ---------------------------------------------------------------

/**
 * RFC 8785 text of `value`. JSON.stringify already writes strings and numbers the way the RFC
 * asks, and Array.prototype.sort orders keys by UTF-16 code units, as the RFC asks.
 */
function canonicalJson(value) {
  if (value === null || typeof value === 'boolean' || typeof value === 'string') return JSON.stringify(value);
  if (typeof value === 'number') {
    if (!Number.isFinite(value)) throw new TypeError('NaN and infinities are not JSON');
    return JSON.stringify(value);
  }
  if (Array.isArray(value)) return '[' + value.map(canonicalJson).join(',') + ']';
  if (typeof value === 'object') {
    return '{' + Object.keys(value).sort()
      .filter((key) => value[key] !== undefined)
      .map((key) => JSON.stringify(key) + ':' + canonicalJson(value[key])).join(',') + '}';
  }
  throw new TypeError(`${typeof value} is not a JSON value`);
}

// --- keys and signed answers -------------------------------------------------------------------

/** A SubjectPublicKeyInfo PEM as served by GET /api/client/public-key: RSA (>= 2048 bits) or Ed25519. */
function loadPublicKey(pem) {
  const key = pem instanceof crypto.KeyObject ? pem : crypto.createPublicKey({ key: pem, format: 'pem' });
  if (key.type !== 'public') throw new TypeError('not a public key');
  if (key.asymmetricKeyType === 'ed25519') return key;
  if (key.asymmetricKeyType === 'rsa' && key.asymmetricKeyDetails.modulusLength >= MIN_RSA_BITS) return key;
  throw new TypeError(`unsupported signing key ${key.asymmetricKeyType}: only RSA and Ed25519`);
}

/** First 16 hex of SHA-256 over the key's DER SubjectPublicKeyInfo. */
function keyId(key) {
  const der = loadPublicKey(key).export({ type: 'spki', format: 'der' });
  return crypto.createHash('sha256').update(der).digest('hex').slice(0, 16);
}

/** What an answer's signature covers: the canonical JSON of `data` without `signature`, UTF-8. */
function answerMessage(data) {
  const { signature, ...signed } = data; // eslint-disable-line no-unused-vars
  return Buffer.from(canonicalJson(signed), 'utf8');
}

const BASE64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;

/** True only when data.signature is a valid signature of `data` by `publicKey` (RSA PKCS#1 v1.5 SHA-256 or Ed25519). */
function verifyAnswerSignature(publicKey, data) {
  if (data === null || typeof data !== 'object' || Array.isArray(data)) return false;
  if (typeof data.signature !== 'string' || !BASE64.test(data.signature)) return false;
  try {
    const key = loadPublicKey(publicKey);
    const signature = Buffer.from(data.signature, 'base64');
    if (key.asymmetricKeyType === 'ed25519') return crypto.verify(null, answerMessage(data), key, signature);
    return crypto.verify('sha256', answerMessage(data), { key, padding: crypto.constants.RSA_PKCS1_PADDING },
      signature);
  } catch (error) {
    return false;
  }
}

const ISO_TIME = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(?:\.\d+)?(?:Z|[+-]\d{2}:\d{2})$/;

/** Milliseconds since the epoch of an ISO-8601 time with a zone; NaN otherwise. */
function parseTime(value) {
  return typeof value === 'string' && ISO_TIME.test(value) ? Date.parse(value) : NaN;
}

/**
 * Why a successful answer must be refused, or null when it may be trusted: a valid signature by
 * `publicKey`, that key's id, the nonce this request sent, a server time within maxSkewMs of nowMs,
 * and the product, license key and device of `request`.
 */
function checkAnswer(publicKey, expectedKeyId, data, { nonce, nowMs = Date.now(), maxSkewMs = MAX_SKEW_MS, request }) {
  if (data === null || typeof data !== 'object' || !('signature' in data)) return 'the answer is not signed';
  if (!verifyAnswerSignature(publicKey, data)) return "the answer's signature does not verify";
  if (data.key_id !== expectedKeyId) return 'the answer names another signing key';
  if (data.nonce !== nonce) return "the answer does not echo this request's nonce (replayed answer?)";
  const serverMs = parseTime(data.timestamp);
  if (Number.isNaN(serverMs)) return 'the answer has no valid timestamp';
  if (Math.abs(nowMs - serverMs) > maxSkewMs) return "the answer's timestamp is too far from the local clock";
  for (const name of BOUND_FIELDS) {
    if (typeof data[name] !== 'string' || data[name].toLowerCase() !== String(request[name] || '').toLowerCase()) {
      return `the answer is about another ${name}`;
    }
  }
  return null;
}

// --- the envelope ------------------------------------------------------------------------------

const aesKey = (secretKey) => crypto.createHash('sha256').update(secretKey, 'utf8').digest();

function envelopeHmac(secretKey, iv, data, tag, timestamp) {
  return crypto.createHmac('sha256', Buffer.from(secretKey, 'utf8'))
    .update(`${iv}:${data}:${tag}:${timestamp}`, 'utf8').digest('hex');
}

/** Seal the exact bytes `plaintext`. Pass iv and timestampMs only to reproduce a test vector. */
function sealBytes(secretKey, productId, plaintext, timestampMs = Date.now(), iv = crypto.randomBytes(IV_BYTES)) {
  if (iv.length !== IV_BYTES) throw new RangeError(`the iv must be ${IV_BYTES} bytes`);
  const cipher = crypto.createCipheriv('aes-256-gcm', aesKey(secretKey), iv, { authTagLength: TAG_BYTES });
  const data = Buffer.concat([cipher.update(plaintext), cipher.final()]).toString('hex');
  const tag = cipher.getAuthTag().toString('hex');
  const ivHex = iv.toString('hex');
  return {
    encrypted: true, iv: ivHex, data, tag, signature: envelopeHmac(secretKey, ivHex, data, tag, timestampMs),
    product_id: productId, timestamp: timestampMs,
  };
}

/** Seal a request body (a JSON object). */
function sealEnvelope(secretKey, productId, body, timestampMs, iv) {
  return sealBytes(secretKey, productId, Buffer.from(JSON.stringify(body), 'utf8'), timestampMs, iv);
}

function hexField(envelope, name, length) {
  const value = envelope[name];
  if (typeof value !== 'string' || !/^[0-9a-fA-F]*$/.test(value) || value.length % 2) {
    throw new EnvelopeError(`envelope field ${name} is not hex`);
  }
  if (length !== undefined && value.length !== length) throw new EnvelopeError(`envelope field ${name} has the wrong length`);
  return value;
}

/** The decrypted JSON object; EnvelopeError when anything is off (shape, HMAC, clock, GCM, JSON). */
function openEnvelope(secretKey, envelope, nowMs = Date.now(), maxSkewMs = MAX_SKEW_MS) {
  if (envelope === null || typeof envelope !== 'object' || envelope.encrypted !== true) {
    throw new EnvelopeError('not an encrypted envelope');
  }
  const iv = hexField(envelope, 'iv', IV_BYTES * 2);
  const data = hexField(envelope, 'data');
  const tag = hexField(envelope, 'tag', TAG_BYTES * 2);
  const signature = hexField(envelope, 'signature', 64);
  const { timestamp } = envelope;
  if (!Number.isSafeInteger(timestamp)) throw new EnvelopeError('envelope timestamp is not an integer');
  const expected = Buffer.from(envelopeHmac(secretKey, iv, data, tag, timestamp), 'hex');
  if (!crypto.timingSafeEqual(expected, Buffer.from(signature, 'hex'))) throw new EnvelopeError('envelope HMAC does not match');
  if (Math.abs(nowMs - timestamp) > maxSkewMs) throw new EnvelopeError('envelope timestamp is outside the allowed clock skew');
  let plaintext;
  try {
    const decipher = crypto.createDecipheriv('aes-256-gcm', aesKey(secretKey), Buffer.from(iv, 'hex'),
      { authTagLength: TAG_BYTES });
    decipher.setAuthTag(Buffer.from(tag, 'hex'));
    plaintext = Buffer.concat([decipher.update(Buffer.from(data, 'hex')), decipher.final()]);
  } catch (error) {
    throw new EnvelopeError('envelope does not decrypt');
  }
  let payload;
  try {
    payload = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(plaintext));
  } catch (error) {
    throw new EnvelopeError('envelope plaintext is not JSON');
  }
  if (payload === null || typeof payload !== 'object' || Array.isArray(payload)) {
    throw new EnvelopeError('envelope plaintext is not a JSON object');
  }
  return payload;
}

// --- challenge-response ------------------------------------------------------------------------

/** hex HMAC-SHA256(secret key, challenge + licenseKey + hwid). */
function challengeResponse(secretKey, challenge, licenseKey, hwid) {
  return crypto.createHmac('sha256', Buffer.from(secretKey, 'utf8'))
    .update(challenge + licenseKey + hwid, 'utf8').digest('hex');
}

module.exports = {
  BOUND_FIELDS, EnvelopeError, IV_BYTES, MAX_SKEW_MS, TAG_BYTES, answerMessage, canonicalJson, challengeResponse,
  checkAnswer, envelopeHmac, keyId, loadPublicKey, openEnvelope, parseTime, sealBytes, sealEnvelope,
  verifyAnswerSignature,
};
