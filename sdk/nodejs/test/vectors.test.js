'use strict';
// The conformance vectors (sdk/conformance/vectors), made by KeyLedger's own code.
const test = require('node:test');
const assert = require('node:assert/strict');
const fs = require('fs');
const path = require('path');

const protocol = require('../lib/protocol');
const { hwidFromMachineId } = require('../lib/hwid');

const VECTORS = path.join(__dirname, '..', '..', 'conformance', 'vectors');
const load = (name) => JSON.parse(fs.readFileSync(path.join(VECTORS, name), 'utf8'));

for (const c of load('canonical.json').cases) {
  test(`canonical JSON: ${c.name}`, () => {
    assert.equal(protocol.canonicalJson(JSON.parse(c.input)), c.canonical);
  });
}

const answers = load('answers.json');
for (const [name, key] of Object.entries(answers.keys)) {
  test(`key id: ${name}`, () => assert.equal(protocol.keyId(key.public_key), key.key_id));
}
for (const c of answers.cases) {
  test(`signed answer: ${c.name}`, () => {
    const key = answers.keys[c.key];
    const { expect } = answers;
    assert.equal(protocol.verifyAnswerSignature(key.public_key, c.data), c.signature_valid);
    const reason = protocol.checkAnswer(key.public_key, key.key_id, c.data, {
      nonce: expect.nonce, nowMs: expect.now_ms, maxSkewMs: expect.max_skew_ms,
      request: { product_id: expect.product_id, license_key: expect.license_key, hwid: expect.hwid },
    });
    assert.equal(reason === null, c.accepted, reason);
  });
}

const envelopes = load('envelopes.json');
for (const c of envelopes.open) {
  test(`open envelope: ${c.name}`, () => {
    if (c.opens) {
      assert.deepEqual(protocol.openEnvelope(envelopes.secret, c.envelope, c.now_ms), c.plaintext);
    } else {
      assert.throws(() => protocol.openEnvelope(envelopes.secret, c.envelope, c.now_ms), protocol.EnvelopeError);
    }
  });
}
for (const c of envelopes.seal) {
  test(`seal envelope: ${c.name}`, () => {
    const sealed = protocol.sealBytes(c.secret, c.product_id, Buffer.from(c.plaintext, 'utf8'), c.timestamp,
      Buffer.from(c.iv, 'hex'));
    assert.deepEqual(sealed, c.envelope);
  });
}

for (const c of load('challenges.json').cases) {
  test(`challenge response: ${c.name}`, () => {
    assert.equal(protocol.challengeResponse(c.secret, c.challenge, c.license_key, c.hwid), c.response);
  });
}

for (const c of load('hwid.json').cases) {
  test(`hwid from machine id ${JSON.stringify(c.machine_id)}`, () => assert.equal(hwidFromMachineId(c.machine_id), c.hwid));
}
