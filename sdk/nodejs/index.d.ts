// Type definitions for the LicenseCM Node.js SDK (KeyLedger).
/// <reference types="node" />
import { EventEmitter } from 'events';
import { KeyObject } from 'crypto';

declare namespace LicenseCM {
  type Json = null | boolean | number | string | Json[] | { [key: string]: Json };

  /** Details given to onSecurityViolation: `source` says who detected it. */
  interface SecurityViolationDetails {
    source: 'client' | 'server';
    action: string;
    reason: string;
    code?: string;
    status?: number;
    security_details?: { [key: string]: Json };
  }

  /** (method, url, body, headers, timeoutMs) -> {status, body}; rejects only when there is no answer. */
  type Transport = (method: 'GET' | 'POST', url: string, body: Buffer | null, headers: { [name: string]: string | number },
    timeoutMs: number) => Promise<{ status: number; body: Buffer | Uint8Array }>;

  interface Options {
    /** The server, with or without the trailing /api. */
    baseUrl: string;
    productId: string;
    /** The product's sk_live_... secret: needed for encryption and challenge(). */
    secretKey?: string | null;
    /** Send requests in the AES-256-GCM envelope. Default false. */
    useEncryption?: boolean;
    /** Heartbeat automatically after activate(). Default true. */
    autoHeartbeat?: boolean;
    /** Milliseconds between automatic heartbeats. Default 300000. */
    heartbeatInterval?: number;
    onSessionExpired?: (() => void) | null;
    onSecurityViolation?: ((details: SecurityViolationDetails) => void) | null;
    onHeartbeatFailed?: ((error: LicenseCMError) => void) | null;
    /** Pin the server's key by PEM (strongly recommended), or by key id (16 hex). */
    pinnedPublicKey?: string | KeyObject | null;
    pinnedKeyId?: string | null;
    /** This device's id; default getHwid(). */
    hwid?: string | null;
    /** Request timeout in ms. Default 10000. */
    timeout?: number;
    /** Largest accepted distance between the server's time and ours, in ms. Default 300000. */
    maxClockSkew?: number;
    transport?: Transport;
  }

  type LicenseInfo = { type: string; expires_at: string | null; metadata: { [key: string]: Json } };

  /** Fields every verified answer carries. */
  interface SignedData {
    timestamp: string;
    key_id: string;
    nonce: string;
    product_id: string;
    license_key: string;
    hwid: string;
    signature: string;
    [key: string]: Json;
  }

  interface ValidationData extends SignedData { valid: true; license: LicenseInfo; watermark: string }
  interface ActivationData extends SignedData {
    activated: true; session: { token: string; expires_at: string }; license: LicenseInfo; watermark: string;
  }
  interface HeartbeatData extends SignedData { valid: true; new_token: string; expires_at: string }
  interface DeactivationData extends SignedData { deactivated: true; current_uses: number }
  interface PublicKeyInfo { key_id: string; algorithm: 'rsa-4096' | 'ed25519'; public_key: string }
  interface SessionInfo { token: string | null; expires: string | null; isValid: boolean; licenseKey: string | null; hwid: string }

  /** Server codes (LICENSE_NOT_FOUND, LICENSE_EXPIRED, LICENSE_SUSPENDED, HWID_MISMATCH, MAX_USES_EXCEEDED,
   * PRODUCT_NOT_FOUND, BLACKLISTED, SESSION_EXPIRED, SECURITY_VIOLATION, VALIDATION_ERROR) and the SDK's own. */
  type ErrorCode = 'LICENSE_NOT_FOUND' | 'LICENSE_EXPIRED' | 'LICENSE_SUSPENDED' | 'HWID_MISMATCH' | 'MAX_USES_EXCEEDED'
    | 'PRODUCT_NOT_FOUND' | 'BLACKLISTED' | 'SESSION_EXPIRED' | 'SECURITY_VIOLATION' | 'VALIDATION_ERROR'
    | 'NETWORK_ERROR' | 'INVALID_RESPONSE' | 'NOT_ACTIVATED' | string;

  class LicenseCMError extends Error {
    constructor(message: string, code?: ErrorCode | null, status?: number | null, details?: { [key: string]: unknown });
    code: ErrorCode | null;
    /** HTTP status, or null when the check failed here or there was no answer. */
    status: number | null;
    details: { [key: string]: unknown };
  }

  const SESSION_ENDING_CODES: ReadonlySet<string>;
  const VERSION: string;
  function getHwid(): string;
  function hwidFromMachineId(machineId: string): string;
  const nodeTransport: Transport;

  namespace protocol {
    class EnvelopeError extends Error {}
    interface Envelope {
      encrypted: true; iv: string; data: string; tag: string; signature: string; product_id: string; timestamp: number;
    }
    function canonicalJson(value: Json): string;
    function loadPublicKey(pem: string | KeyObject): KeyObject;
    function keyId(key: string | KeyObject): string;
    function verifyAnswerSignature(publicKey: string | KeyObject, data: unknown): boolean;
    function checkAnswer(publicKey: string | KeyObject, expectedKeyId: string, data: unknown, expected: {
      nonce: string; nowMs?: number; maxSkewMs?: number; request: { product_id: string; license_key: string; hwid: string };
    }): string | null;
    function sealEnvelope(secretKey: string, productId: string, body: { [key: string]: Json }, timestampMs?: number,
      iv?: Buffer): Envelope;
    function sealBytes(secretKey: string, productId: string, plaintext: Buffer, timestampMs?: number, iv?: Buffer): Envelope;
    function openEnvelope(secretKey: string, envelope: unknown, nowMs?: number, maxSkewMs?: number): { [key: string]: Json };
    function challengeResponse(secretKey: string, challenge: string, licenseKey: string, hwid: string): string;
  }
}

/**
 * Events: 'sessionExpired', 'securityViolation' (details), 'heartbeat' (data), 'heartbeatFailed' (error),
 * emitted alongside the option callbacks.
 */
declare class LicenseCM extends EventEmitter {
  constructor(options: LicenseCM.Options);
  static generateHwid(): string;
  readonly apiUrl: string;
  readonly productId: string;
  readonly hwid: string;
  readonly sessionToken: string | null;
  readonly sessionExpires: string | null;
  readonly licenseKey: string | null;
  readonly publicKeyId: string | null;
  initialize(): Promise<LicenseCM.PublicKeyInfo>;
  activate(licenseKey: string, hwid?: string | null, clientData?: { [key: string]: LicenseCM.Json } | null):
    Promise<LicenseCM.ActivationData>;
  validate(licenseKey?: string | null, hwid?: string | null, clientData?: { [key: string]: LicenseCM.Json } | null):
    Promise<LicenseCM.ValidationData>;
  heartbeat(): Promise<LicenseCM.HeartbeatData>;
  deactivate(licenseKey?: string | null, hwid?: string | null): Promise<LicenseCM.DeactivationData>;
  challenge(licenseKey?: string | null): Promise<LicenseCM.ValidationData>;
  startHeartbeat(): void;
  stopHeartbeat(): void;
  isSessionValid(): boolean;
  getSessionInfo(): LicenseCM.SessionInfo;
  destroy(): void;
  on(event: 'sessionExpired', listener: () => void): this;
  on(event: 'securityViolation', listener: (details: LicenseCM.SecurityViolationDetails) => void): this;
  on(event: 'heartbeat', listener: (data: LicenseCM.HeartbeatData) => void): this;
  on(event: 'heartbeatFailed', listener: (error: LicenseCM.LicenseCMError) => void): this;
  on(event: string | symbol, listener: (...args: any[]) => void): this;
}

export = LicenseCM;
