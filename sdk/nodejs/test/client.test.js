'use strict';
// The client against a stand-in server (test/fake-server.js): what it sends, what it refuses, its heartbeat.
const test = require('node:test');
const assert = require('node:assert/strict');
const net = require('net');

const LicenseCM = require('..');
const { LicenseCMError } = LicenseCM;
const { FakeServer, PUBLIC_PEM } = require('./fake-server');
const protocol = require('../lib/protocol');

async function withServer(options, body) {
  const server = await new FakeServer(options).start();
  const clients = [];
  const make = (extra = {}) => {
    const client = new LicenseCM({ baseUrl: server.url, productId: server.productId, secretKey: server.secret,
      autoHeartbeat: false, hwid: 'device-1', ...extra });
    clients.push(client);
    return client;
  };
  try {
    await body(server, make);
  } finally {
    clients.forEach((client) => client.destroy());
    await server.stop();
  }
}

const waitFor = async (predicate, ms = 3000) => {
  const deadline = Date.now() + ms;
  while (!predicate() && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 10));
  return predicate();
};

for (const useEncryption of [false, true]) {
  test(`activate, validate, heartbeat, deactivate (${useEncryption ? 'encrypted' : 'plain'})`, () => withServer({},
    async (server, make) => {
      const violations = [];
      const client = make({ useEncryption, onSecurityViolation: (d) => violations.push(d) });
      const activated = await client.activate('GOOD-KEY');
      const first = client.sessionToken;
      assert.equal(activated.session.token, first);
      assert.equal((await client.validate()).valid, true);
      const beat = await client.heartbeat();
      assert.equal(beat.new_token, client.sessionToken);
      assert.notEqual(client.sessionToken, first);
      assert.equal((await client.deactivate()).deactivated, true);
      assert.equal(client.sessionToken, null);
      await assert.rejects(client.heartbeat(), { code: 'NOT_ACTIVATED' });
      assert.deepEqual(violations, []);
      // Check every POST carried a fresh nonce and, when asked, travelled sealed.
      const posts = server.requests.filter((r) => r.method === 'POST').map((r) => JSON.parse(r.body));
      assert.ok(posts.every((body) => body.encrypted === useEncryption || (!useEncryption && !('encrypted' in body))));
    }));
}

test('a refusal carries the server code and status', () => withServer({}, async (server, make) => {
  const error = await make().validate('BAD-KEY').catch((e) => e);
  assert.ok(error instanceof LicenseCMError);
  assert.equal(error.code, 'LICENSE_NOT_FOUND');
  assert.equal(error.status, 404);
}));

test('a tampered answer is refused and reported', () => withServer({}, async (server, make) => {
  const violations = [];
  server.tamper = (answer) => { answer.data.watermark = 'f'.repeat(32); };
  const client = make({ onSecurityViolation: (d) => violations.push(d) });
  await assert.rejects(client.validate('GOOD-KEY'), { code: 'SECURITY_VIOLATION', status: null });
  assert.deepEqual(violations.map((v) => [v.source, v.action]), [['client', 'validate']]);
}));

test('an answer without a signature is refused, never accepted unchecked', () => withServer({}, async (server, make) => {
  server.tamper = (answer) => { delete answer.data.signature; };
  await assert.rejects(make().validate('GOOD-KEY'), { code: 'SECURITY_VIOLATION' });
}));

test('a pinned key that does not match stops the client before any request', () => withServer({}, async (server, make) => {
  const violations = [];
  const client = make({ pinnedKeyId: '0000000000000000', onSecurityViolation: (d) => violations.push(d) });
  await assert.rejects(client.initialize(), { code: 'SECURITY_VIOLATION' });
  await assert.rejects(client.activate('GOOD-KEY'), { code: 'SECURITY_VIOLATION' });
  assert.equal(server.requests.filter((r) => r.method === 'POST').length, 0);
  assert.equal(violations.length, 2);
}));

test('the right pinned PEM is accepted', () => withServer({}, async (server, make) => {
  const client = make({ pinnedPublicKey: PUBLIC_PEM });
  assert.equal((await client.initialize()).key_id, protocol.keyId(PUBLIC_PEM));
  assert.equal((await client.activate('GOOD-KEY')).activated, true);
}));

test('a wrong secret is refused by the server and reported as the server\'s', () => withServer({}, async (server, make) => {
  const violations = [];
  const client = make({ useEncryption: true, secretKey: 'sk_live_wrong', onSecurityViolation: (d) => violations.push(d) });
  await assert.rejects(client.activate('GOOD-KEY'), { code: 'SECURITY_VIOLATION', status: 403 });
  assert.deepEqual(violations.map((v) => v.source), ['server']);
}));

test('the automatic heartbeat rotates the token, and a suspension ends the session once', () => withServer({},
  async (server, make) => {
    let expired = 0;
    const client = make({ autoHeartbeat: true, heartbeatInterval: 50, onSessionExpired: () => { expired += 1; } });
    await client.activate('GOOD-KEY');
    const tokens = new Set([client.sessionToken]);
    assert.ok(await waitFor(() => tokens.add(client.sessionToken) && tokens.size >= 3));
    server.suspended = true;
    assert.ok(await waitFor(() => expired === 1));
    await new Promise((resolve) => setTimeout(resolve, 200));
    assert.equal(expired, 1);
    assert.equal(client.sessionToken, null);
    assert.equal(client.heartbeatTimer, null);
  }));

test('no answer is a NETWORK_ERROR', async () => {
  const port = await new Promise((resolve) => {
    const probe = net.createServer().listen(0, '127.0.0.1', () => {
      const { port: free } = probe.address();
      probe.close(() => resolve(free));
    });
  });
  const client = new LicenseCM({ baseUrl: `http://127.0.0.1:${port}`, productId: 'p', autoHeartbeat: false, hwid: 'd' });
  await assert.rejects(client.initialize(), { code: 'NETWORK_ERROR', status: null });
});

test('the base URL may name /api or not', () => {
  for (const base of ['http://h:1', 'http://h:1/', 'http://h:1/api', 'http://h:1/api/']) {
    assert.equal(new LicenseCM({ baseUrl: base, productId: 'p', hwid: 'd' }).apiUrl, 'http://h:1/api');
  }
  assert.throws(() => new LicenseCM({ baseUrl: 'ftp://h', productId: 'p' }), TypeError);
});

test('the HWID is 64 hex and stable', () => {
  assert.match(LicenseCM.generateHwid(), /^[0-9a-f]{64}$/);
  assert.equal(LicenseCM.generateHwid(), LicenseCM.getHwid());
});
