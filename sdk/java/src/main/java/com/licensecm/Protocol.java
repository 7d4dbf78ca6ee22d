package com.licensecm;

import java.nio.charset.StandardCharsets;
import java.security.GeneralSecurityException;
import java.security.KeyFactory;
import java.security.MessageDigest;
import java.security.PublicKey;
import java.security.SecureRandom;
import java.security.Signature;
import java.security.interfaces.RSAPublicKey;
import java.security.spec.X509EncodedKeySpec;
import java.time.Instant;
import java.time.format.DateTimeParseException;
import java.util.Base64;
import java.util.HexFormat;
import java.util.LinkedHashMap;
import java.util.Locale;
import java.util.Map;
import java.util.regex.Pattern;
import javax.crypto.Cipher;
import javax.crypto.Mac;
import javax.crypto.spec.GCMParameterSpec;
import javax.crypto.spec.SecretKeySpec;

/**
 * The wire protocol with no network in it: keys and key ids, answer signatures, the envelope,
 * challenge-response. Checked against sdk/conformance/vectors (made by KeyLedger's own code).
 */
public final class Protocol {
    public static final int IV_BYTES = 16;
    public static final int TAG_BYTES = 16;
    public static final long MAX_SKEW_MS = 5 * 60 * 1000;
    /** Request fields a signed answer repeats; each must be there and equal what was sent. */
    public static final String[] BOUND_FIELDS = {"product_id", "license_key", "hwid"};
    private static final Pattern HEX = Pattern.compile("[0-9a-fA-F]*");
    private static final SecureRandom RANDOM = new SecureRandom();

    private Protocol() {}

    /** Thrown when an envelope must not be trusted: malformed, bad HMAC, stale, failing GCM or not JSON. */
    public static final class EnvelopeException extends Exception {
        private static final long serialVersionUID = 1L;

        public EnvelopeException(String message) {
            super(message);
        }
    }

    // --- keys and signed answers -----------------------------------------------------------------

    /** A SubjectPublicKeyInfo PEM as served by GET /api/client/public-key: RSA (2048 bits or more) or Ed25519. */
    public static PublicKey loadPublicKey(String pem) throws GeneralSecurityException {
        String body = pem.replace("-----BEGIN PUBLIC KEY-----", "").replace("-----END PUBLIC KEY-----", "")
            .replaceAll("\\s", "");
        byte[] der;
        try {
            der = Base64.getDecoder().decode(body);
        } catch (IllegalArgumentException e) {
            throw new GeneralSecurityException("not a PUBLIC KEY PEM");
        }
        for (String algorithm : new String[] {"Ed25519", "RSA"}) {
            try {
                PublicKey key = KeyFactory.getInstance(algorithm).generatePublic(new X509EncodedKeySpec(der));
                if (key instanceof RSAPublicKey && ((RSAPublicKey) key).getModulus().bitLength() < 2048) break;
                return key;
            } catch (GeneralSecurityException e) {
                // try the other algorithm
            }
        }
        throw new GeneralSecurityException("unsupported signing key: only RSA and Ed25519");
    }

    /** First 16 hex of SHA-256 over the key's DER SubjectPublicKeyInfo. */
    public static String keyId(PublicKey key) {
        return HexFormat.of().formatHex(sha256(key.getEncoded())).substring(0, 16);
    }

    /** What an answer's signature covers: canonical JSON of data without "signature", UTF-8. */
    public static byte[] answerMessage(Map<String, Object> data) {
        Map<String, Object> signed = new LinkedHashMap<>(data);
        signed.remove("signature");
        return Json.canonical(signed).getBytes(StandardCharsets.UTF_8);
    }

    /** True only when data.signature is a valid signature of data by key (RSA PKCS#1 v1.5 SHA-256, or Ed25519). */
    public static boolean verifyAnswerSignature(PublicKey key, Map<String, Object> data) {
        if (data == null || !(data.get("signature") instanceof String)) return false;
        try {
            byte[] signature = Base64.getDecoder().decode((String) data.get("signature"));
            Signature verifier = Signature.getInstance(key instanceof RSAPublicKey ? "SHA256withRSA" : "Ed25519");
            verifier.initVerify(key);
            verifier.update(answerMessage(data));
            return verifier.verify(signature);
        } catch (GeneralSecurityException | IllegalArgumentException e) {
            return false;
        }
    }

    /**
     * Why a successful answer must be refused, or null when it may be trusted: a valid signature by key,
     * that key's id, this request's nonce, a server time within maxSkewMs of nowMs, and the product,
     * license key and device of the request.
     */
    public static String checkAnswer(PublicKey key, String expectedKeyId, Object answerData, String nonce, long nowMs,
                                     long maxSkewMs, Map<String, Object> request) {
        if (!(answerData instanceof Map) || !((Map<?, ?>) answerData).containsKey("signature")) return "the answer is not signed";
        @SuppressWarnings("unchecked")
        Map<String, Object> data = (Map<String, Object>) answerData;
        if (!verifyAnswerSignature(key, data)) return "the answer's signature does not verify";
        if (!expectedKeyId.equals(data.get("key_id"))) return "the answer names another signing key";
        if (nonce == null || !nonce.equals(data.get("nonce"))) return "the answer does not echo this request's nonce (replayed answer?)";
        long serverMs;
        try {
            serverMs = Instant.parse(String.valueOf(data.get("timestamp"))).toEpochMilli();
        } catch (DateTimeParseException e) {
            return "the answer has no valid timestamp";
        }
        if (Math.abs(nowMs - serverMs) > maxSkewMs) return "the answer's timestamp is too far from the local clock";
        for (String name : BOUND_FIELDS) {
            Object got = data.get(name);
            Object wanted = request.get(name);
            if (!(got instanceof String) || wanted == null
                || !((String) got).toLowerCase(Locale.ROOT).equals(wanted.toString().toLowerCase(Locale.ROOT))) {
                return "the answer is about another " + name;
            }
        }
        return null;
    }

    // --- the envelope ----------------------------------------------------------------------------

    static byte[] sha256(byte[] bytes) {
        try {
            return MessageDigest.getInstance("SHA-256").digest(bytes);
        } catch (GeneralSecurityException e) {
            throw new IllegalStateException(e);
        }
    }

    private static byte[] hmac(String secretKey, String message) {
        try {
            Mac mac = Mac.getInstance("HmacSHA256");
            mac.init(new SecretKeySpec(secretKey.getBytes(StandardCharsets.UTF_8), "HmacSHA256"));
            return mac.doFinal(message.getBytes(StandardCharsets.UTF_8));
        } catch (GeneralSecurityException e) {
            throw new IllegalStateException(e);
        }
    }

    /** hex HMAC-SHA256(secret key, iv:data:tag:timestamp) over the strings as sent. */
    public static String envelopeHmac(String secretKey, String iv, String data, String tag, long timestamp) {
        return HexFormat.of().formatHex(hmac(secretKey, iv + ":" + data + ":" + tag + ":" + timestamp));
    }

    private static Cipher gcm(int mode, String secretKey, byte[] iv) throws GeneralSecurityException {
        Cipher cipher = Cipher.getInstance("AES/GCM/NoPadding");
        cipher.init(mode, new SecretKeySpec(sha256(secretKey.getBytes(StandardCharsets.UTF_8)), "AES"),
            new GCMParameterSpec(TAG_BYTES * 8, iv));
        return cipher;
    }

    /** Seals the exact bytes plaintext; pass iv (16 bytes) and timestampMs only to reproduce a test vector. */
    public static Map<String, Object> sealBytes(String secretKey, String productId, byte[] plaintext, long timestampMs,
                                                byte[] iv) {
        if (iv == null) {
            iv = new byte[IV_BYTES];
            RANDOM.nextBytes(iv);
        }
        if (iv.length != IV_BYTES) throw new IllegalArgumentException("the iv must be " + IV_BYTES + " bytes");
        byte[] sealed;
        try {
            sealed = gcm(Cipher.ENCRYPT_MODE, secretKey, iv).doFinal(plaintext);
        } catch (GeneralSecurityException e) {
            throw new IllegalStateException(e);
        }
        HexFormat hex = HexFormat.of();
        String ivHex = hex.formatHex(iv);
        String data = hex.formatHex(sealed, 0, sealed.length - TAG_BYTES);
        String tag = hex.formatHex(sealed, sealed.length - TAG_BYTES, sealed.length);
        Map<String, Object> envelope = new LinkedHashMap<>();
        envelope.put("encrypted", true);
        envelope.put("iv", ivHex);
        envelope.put("data", data);
        envelope.put("tag", tag);
        envelope.put("signature", envelopeHmac(secretKey, ivHex, data, tag, timestampMs));
        envelope.put("product_id", productId);
        envelope.put("timestamp", timestampMs);
        return envelope;
    }

    private static String hexField(Map<?, ?> envelope, String name, int length) throws EnvelopeException {
        Object value = envelope.get(name);
        if (!(value instanceof String) || !HEX.matcher((String) value).matches() || ((String) value).length() % 2 != 0) {
            throw new EnvelopeException("envelope field " + name + " is not hex");
        }
        if (length > 0 && ((String) value).length() != length) throw new EnvelopeException("envelope field " + name + " has the wrong length");
        return (String) value;
    }

    /** The JSON object inside; checked in the server's order: shape, HMAC, clock, GCM, JSON. */
    @SuppressWarnings("unchecked")
    public static Map<String, Object> openEnvelope(String secretKey, Object value, long nowMs, long maxSkewMs)
        throws EnvelopeException {
        if (!(value instanceof Map) || !Boolean.TRUE.equals(((Map<?, ?>) value).get("encrypted"))) {
            throw new EnvelopeException("not an encrypted envelope");
        }
        Map<?, ?> envelope = (Map<?, ?>) value;
        String iv = hexField(envelope, "iv", IV_BYTES * 2);
        String data = hexField(envelope, "data", 0);
        String tag = hexField(envelope, "tag", TAG_BYTES * 2);
        String signature = hexField(envelope, "signature", 64);
        if (!(envelope.get("timestamp") instanceof Long)) throw new EnvelopeException("envelope timestamp is not an integer");
        long timestamp = (Long) envelope.get("timestamp");
        HexFormat hex = HexFormat.of();
        if (!MessageDigest.isEqual(hex.parseHex(envelopeHmac(secretKey, iv, data, tag, timestamp)), hex.parseHex(signature))) {
            throw new EnvelopeException("envelope HMAC does not match");
        }
        if (Math.abs(nowMs - timestamp) > maxSkewMs) throw new EnvelopeException("envelope timestamp is outside the allowed clock skew");
        byte[] plaintext;
        try {
            plaintext = gcm(Cipher.DECRYPT_MODE, secretKey, hex.parseHex(iv)).doFinal(hex.parseHex(data + tag));
        } catch (GeneralSecurityException e) {
            throw new EnvelopeException("envelope does not decrypt");
        }
        Object payload;
        try {
            payload = Json.parse(StandardCharsets.UTF_8.newDecoder().decode(java.nio.ByteBuffer.wrap(plaintext)).toString());
        } catch (IllegalArgumentException | java.nio.charset.CharacterCodingException e) {
            throw new EnvelopeException("envelope plaintext is not JSON");
        }
        if (!(payload instanceof Map)) throw new EnvelopeException("envelope plaintext is not a JSON object");
        return (Map<String, Object>) payload;
    }

    // --- challenge-response ----------------------------------------------------------------------

    /** hex HMAC-SHA256(secret key, challenge + licenseKey + hwid). */
    public static String challengeResponse(String secretKey, String challenge, String licenseKey, String hwid) {
        return HexFormat.of().formatHex(hmac(secretKey, challenge + licenseKey + hwid));
    }
}
