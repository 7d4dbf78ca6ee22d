'use strict';
// A stand-in for KeyLedger's client API in one process, signing with the documented Ed25519 test
// key, for the client's unit tests. The real server is exercised by sdk/conformance/scenario.py.
const crypto = require('crypto');
const http = require('http');
const protocol = require('../lib/protocol');

const SEED = Buffer.from([...Array(32).keys()]);
const PRIVATE_KEY = crypto.createPrivateKey({
  key: Buffer.concat([Buffer.from('302e020100300506032b657004220420', 'hex'), SEED]), format: 'der', type: 'pkcs8' });
const PUBLIC_PEM = crypto.createPublicKey(PRIVATE_KEY).export({ type: 'spki', format: 'pem' });

class FakeServer {
  constructor({ secret = 'sk_live_test_secret', productId = '3f2b8c1e-9a4d-4e6f-8b7a-1c2d3e4f5a6b' } = {}) {
    Object.assign(this, { secret, productId, requests: [], suspended: false, tamper: null, tokens: new Set() });
    this.server = http.createServer((request, response) => this.handle(request, response));
  }

  async start() {
    await new Promise((resolve) => this.server.listen(0, '127.0.0.1', resolve));
    this.url = `http://127.0.0.1:${this.server.address().port}`;
    return this;
  }

  stop() {
    this.server.closeAllConnections();
    return new Promise((resolve) => this.server.close(resolve));
  }

  handle(request, response) {
    const chunks = [];
    request.on('data', (chunk) => chunks.push(chunk));
    request.on('end', () => {
      const url = new URL(request.url, 'http://x');
      const raw = Buffer.concat(chunks).toString('utf8');
      this.requests.push({ method: request.method, path: url.pathname, body: raw });
      let status = 200;
      let answer;
      let body = raw ? JSON.parse(raw) : null;
      let sealed = false;
      if (body && body.encrypted === true) {
        try {
          body = protocol.openEnvelope(this.secret, body);
          sealed = true;
        } catch (error) {
          return this.send(response, 403, { success: false, message: error.message, error_code: 'SECURITY_VIOLATION' });
        }
      }
      [status, answer] = this.answer(url, body);
      if (status === 200 && answer.data && this.tamper) this.tamper(answer);
      this.send(response, status, sealed ? protocol.sealEnvelope(this.secret, this.productId, answer) : answer);
    });
  }

  answer(url, body) {
    const refuse = (status, code) => [status, { success: false, message: code.toLowerCase(), error_code: code }];
    const action = url.pathname.replace('/api/client/', '');
    if (action === 'public-key') {
      return [200, { success: true, data: { public_key: PUBLIC_PEM, key_id: protocol.keyId(PUBLIC_PEM), algorithm: 'ed25519' } }];
    }
    if (body.license_key !== 'GOOD-KEY') return refuse(404, 'LICENSE_NOT_FOUND');
    if (this.suspended) return refuse(403, 'LICENSE_SUSPENDED');
    const token = () => {
      const value = crypto.randomBytes(8).toString('hex');
      this.tokens.add(value);
      return value;
    };
    let data;
    if (action === 'activate') data = { activated: true, session: { token: token(), expires_at: '2999-01-01T00:00:00.000000Z' } };
    else if (action === 'validate') data = { valid: true, watermark: '0'.repeat(32) };
    else if (action === 'deactivate') data = { deactivated: true, current_uses: 0 };
    else if (action === 'heartbeat') {
      if (!this.tokens.delete(body.session_token)) return refuse(401, 'SESSION_EXPIRED');
      data = { valid: true, new_token: token(), expires_at: '2999-01-01T00:00:00.000000Z' };
    } else return refuse(404, 'NOT_FOUND');
    return [200, { success: true, data: this.sign(data, body) }];
  }

  sign(data, body) {
    const bound = { ...data, timestamp: new Date().toISOString().replace('Z', '000Z'), key_id: protocol.keyId(PUBLIC_PEM),
      product_id: this.productId, license_key: body.license_key, hwid: body.hwid, nonce: body.nonce };
    const signature = crypto.sign(null, Buffer.from(protocol.canonicalJson(bound), 'utf8'), PRIVATE_KEY).toString('base64');
    return { ...bound, signature };
  }

  send(response, status, body) {
    const raw = JSON.stringify(body);
    response.writeHead(status, { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(raw) });
    response.end(raw);
  }
}

module.exports = { FakeServer, PUBLIC_PEM };
