package com.licensecm;

import java.io.IOException;
import java.net.URI;
import java.net.URLEncoder;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.security.GeneralSecurityException;
import java.security.PublicKey;
import java.security.SecureRandom;
import java.time.Duration;
import java.time.Instant;
import java.util.HashMap;
import java.util.HexFormat;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.ScheduledFuture;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.locks.ReentrantLock;
import java.util.function.Consumer;

/**
 * LicenseCM Java SDK for KeyLedger: activate, validate, keep alive and deactivate a license.
 *
 * <p>Every successful answer is verified before it is returned: its signature against the product's
 * public key (pinned, if you pin it), the key id, the nonce this call sent, the server time within
 * five minutes, and the product, license key and device it is about. Any failure calls the security
 * violation callback and throws {@link LicenseCMException} with code SECURITY_VIOLATION.
 */
public class LicenseCM implements AutoCloseable {
    public static final String VERSION = "0.1.0";
    /** Heartbeat refusals after which the session cannot go on: the session-expired callback runs once. */
    public static final Set<String> SESSION_ENDING_CODES = Set.of("SESSION_EXPIRED", "LICENSE_SUSPENDED",
        "LICENSE_EXPIRED", "LICENSE_NOT_FOUND", "HWID_MISMATCH", "PRODUCT_NOT_FOUND", "BLACKLISTED", "SECURITY_VIOLATION");
    private static final long HEARTBEAT_RETRY_MS = 30_000;
    private static final int MAX_ANSWER_BYTES = 1_000_000;
    private static final SecureRandom RANDOM = new SecureRandom();

    private final String apiUrl;
    private final String productId;
    private final String secretKey;
    private boolean useEncryption;
    private boolean autoHeartbeat = true;
    private long heartbeatIntervalMs = 5 * 60 * 1000;
    private long maxClockSkewMs = Protocol.MAX_SKEW_MS;
    private Duration timeout = Duration.ofSeconds(10);
    private String hwid;
    private PublicKey pinnedKey;
    private String pinnedKeyId;
    private Runnable onSessionExpired;
    private Consumer<Map<String, Object>> onSecurityViolation;
    private Consumer<Exception> onHeartbeatFailed;

    // HTTP/1.1: the JDK client otherwise offers an h2c upgrade on http://, and servers that decline it drop the body.
    private final HttpClient http = HttpClient.newBuilder().version(HttpClient.Version.HTTP_1_1)
        .connectTimeout(Duration.ofSeconds(10)).build();
    private final Object state = new Object(); // guards the fields below
    private final ReentrantLock beat = new ReentrantLock(); // one heartbeat at a time: each one rotates the token
    private PublicKey publicKey;
    private String publicKeyId;
    private String licenseKey;
    private String sessionHwid;
    private String sessionToken;
    private Instant sessionExpires;
    private boolean sessionEndReported;
    private ScheduledExecutorService scheduler;
    private ScheduledFuture<?> heartbeatTask;

    /** @param baseUrl the server, with or without the trailing /api */
    public LicenseCM(String baseUrl, String productId, String secretKey) {
        String url = baseUrl.trim().replaceAll("/+$", "");
        if (!url.matches("(?i)https?://.+")) throw new IllegalArgumentException("baseUrl must be an http(s) URL");
        this.apiUrl = url.endsWith("/api") ? url : url + "/api";
        this.productId = productId;
        this.secretKey = secretKey;
    }

    // --- options (the published SDK's fluent setters, and the pins) --------------------------------

    public LicenseCM setUseEncryption(boolean useEncryption) {
        if (useEncryption && (secretKey == null || secretKey.isEmpty())) throw new IllegalArgumentException("encryption needs the secret key");
        this.useEncryption = useEncryption;
        return this;
    }

    public LicenseCM setAutoHeartbeat(boolean autoHeartbeat) {
        this.autoHeartbeat = autoHeartbeat;
        return this;
    }

    public LicenseCM setHeartbeatInterval(long intervalMs) {
        if (intervalMs <= 0) throw new IllegalArgumentException("the heartbeat interval must be positive (ms)");
        this.heartbeatIntervalMs = intervalMs;
        return this;
    }

    public LicenseCM setOnSessionExpired(Runnable callback) {
        this.onSessionExpired = callback;
        return this;
    }

    public LicenseCM setOnSecurityViolation(Consumer<Map<String, Object>> callback) {
        this.onSecurityViolation = callback;
        return this;
    }

    public LicenseCM setOnHeartbeatFailed(Consumer<Exception> callback) {
        this.onHeartbeatFailed = callback;
        return this;
    }

    /** Pins the server's key by its PEM (strongly recommended). */
    public LicenseCM setPinnedPublicKey(String pem) throws GeneralSecurityException {
        PublicKey key = Protocol.loadPublicKey(pem);
        if (pinnedKeyId != null && !pinnedKeyId.equals(Protocol.keyId(key))) {
            throw new IllegalArgumentException("the pinned key id does not belong to the pinned key");
        }
        this.pinnedKey = key;
        this.pinnedKeyId = Protocol.keyId(key);
        return this;
    }

    /** Pins the server's key by its id (16 hex). */
    public LicenseCM setPinnedKeyId(String keyId) {
        this.pinnedKeyId = keyId.toLowerCase(Locale.ROOT);
        return this;
    }

    /** This device's id; {@link #generateHwid()} when not set. */
    public LicenseCM setHwid(String hwid) {
        this.hwid = hwid;
        return this;
    }

    public LicenseCM setMaxClockSkew(long ms) {
        this.maxClockSkewMs = ms;
        return this;
    }

    public LicenseCM setTimeout(Duration timeout) {
        this.timeout = timeout;
        return this;
    }

    /** This machine's HWID (see README: the OS machine id, hashed). */
    public static String generateHwid() {
        return Hwid.get();
    }

    // --- the API ---------------------------------------------------------------------------------

    /** Fetches the product's public key and checks it against the pin: key_id, algorithm, public_key. */
    public Map<String, Object> fetchPublicKey() throws LicenseCMException {
        Map<String, Object> answer = exchange("public-key", "GET",
            "/client/public-key?product_id=" + URLEncoder.encode(productId, StandardCharsets.UTF_8), null);
        Map<String, Object> data = asMap(answer.get("data"));
        if (data == null || !(data.get("public_key") instanceof String)) {
            throw new LicenseCMException("The public key answer has no key", "INVALID_RESPONSE", 0, answer);
        }
        PublicKey key;
        try {
            key = Protocol.loadPublicKey((String) data.get("public_key"));
        } catch (GeneralSecurityException e) {
            throw violation("public-key", "unusable public key: " + e.getMessage());
        }
        String fetchedId = Protocol.keyId(key);
        if (!fetchedId.equals(data.get("key_id"))) throw violation("public-key", "the served key_id does not match the served key");
        if (pinnedKeyId != null && !pinnedKeyId.equals(fetchedId)) {
            throw violation("public-key", "the server's public key is not the pinned key");
        }
        synchronized (state) {
            publicKey = pinnedKey != null ? pinnedKey : key;
            publicKeyId = fetchedId;
        }
        Map<String, Object> info = new LinkedHashMap<>();
        info.put("key_id", fetchedId);
        info.put("algorithm", data.get("algorithm"));
        info.put("public_key", data.get("public_key"));
        return info;
    }

    /** {@link #fetchPublicKey()}; the first request calls it when you have not. */
    public void initialize() throws LicenseCMException {
        fetchPublicKey();
    }

    /** Binds this device (hwid, or the client's when null) to the license, opens a session, starts the heartbeat. */
    public Map<String, Object> activate(String licenseKey, String hwid) throws LicenseCMException {
        String device = device(hwid);
        Map<String, Object> data = signedCall("activate", fields(licenseKey, device, true));
        Map<String, Object> session = asMap(data.get("session"));
        if (!Boolean.TRUE.equals(data.get("activated")) || session == null || !(session.get("token") instanceof String)) {
            throw new LicenseCMException("The activation answer has no session", "INVALID_RESPONSE", 0, data);
        }
        stopHeartbeat();
        synchronized (state) {
            this.licenseKey = licenseKey;
            sessionHwid = device;
            sessionToken = (String) session.get("token");
            sessionExpires = parseTime(session.get("expires_at"));
            sessionEndReported = false;
        }
        if (autoHeartbeat) startHeartbeat();
        return data;
    }

    public Map<String, Object> activate(String licenseKey) throws LicenseCMException {
        return activate(licenseKey, null);
    }

    /** Checks the license on this device (null: the activated key, the session's device). */
    public Map<String, Object> validate(String licenseKey, String hwid) throws LicenseCMException {
        Map<String, Object> data = signedCall("validate", fields(keyOrActivated(licenseKey), device(hwid), true));
        if (!Boolean.TRUE.equals(data.get("valid"))) throw new LicenseCMException("The license is not valid", "INVALID_RESPONSE", 0, data);
        return data;
    }

    public Map<String, Object> validate(String licenseKey) throws LicenseCMException {
        return validate(licenseKey, null);
    }

    /**
     * Keeps the session alive and stores the rotated token. The arguments exist for the published SDK's
     * signature: pass null. A session-ending refusal clears the session, stops the heartbeat and runs the
     * session-expired callback once.
     */
    public Map<String, Object> heartbeat(String licenseKey, String hwid) throws LicenseCMException {
        boolean ended = false;
        beat.lock();
        try {
            String token;
            String key;
            String device;
            synchronized (state) {
                token = sessionToken;
                key = this.licenseKey;
                device = sessionHwid;
            }
            if (token == null || key == null || (licenseKey != null && !licenseKey.equals(key))) {
                throw new LicenseCMException("No active session: call activate() first", "NOT_ACTIVATED", 0, null);
            }
            Map<String, Object> body = fields(key, device, false);
            body.put("session_token", token);
            Map<String, Object> data;
            try {
                data = signedCall("heartbeat", body);
            } catch (LicenseCMException e) {
                if (SESSION_ENDING_CODES.contains(e.getCode())) ended = endSession(token);
                throw e;
            }
            if (!Boolean.TRUE.equals(data.get("valid")) || !(data.get("new_token") instanceof String)) {
                throw new LicenseCMException("The heartbeat answer has no new token", "INVALID_RESPONSE", 0, data);
            }
            synchronized (state) {
                if (token.equals(sessionToken)) { // not ended or replaced meanwhile
                    sessionToken = (String) data.get("new_token");
                    Instant expires = parseTime(data.get("expires_at"));
                    if (expires != null) sessionExpires = expires;
                }
            }
            return data;
        } finally {
            beat.unlock();
            if (ended && onSessionExpired != null) safely(onSessionExpired); // outside the lock
        }
    }

    public Map<String, Object> heartbeat() throws LicenseCMException {
        return heartbeat(null, null);
    }

    /** Frees this device's seat and ends the session (null: the activated key and device). */
    public Map<String, Object> deactivate(String licenseKey, String hwid) throws LicenseCMException {
        String key = keyOrActivated(licenseKey);
        boolean ours;
        synchronized (state) {
            ours = key.equals(this.licenseKey);
        }
        if (ours) stopHeartbeat(); // a heartbeat must not race the deactivation
        Map<String, Object> data;
        try {
            data = signedCall("deactivate", fields(key, device(hwid), false));
            if (!Boolean.TRUE.equals(data.get("deactivated"))) {
                throw new LicenseCMException("The deactivation answer is not a deactivation", "INVALID_RESPONSE", 0, data);
            }
        } catch (LicenseCMException e) {
            if (ours && getSessionToken() != null && autoHeartbeat) startHeartbeat(); // the session lives on
            throw e;
        }
        if (ours) {
            synchronized (state) {
                sessionToken = null;
                sessionExpires = null;
                sessionEndReported = true;
            }
        }
        return data;
    }

    public Map<String, Object> deactivate() throws LicenseCMException {
        return deactivate(null, null);
    }

    /** Validates by challenge-response, proving this client holds the product secret. */
    public Map<String, Object> challenge(String licenseKey) throws LicenseCMException {
        if (secretKey == null || secretKey.isEmpty()) throw new IllegalStateException("challenge() needs the secret key");
        String key = keyOrActivated(licenseKey);
        String device = device(null);
        ensureInitialized();
        Map<String, Object> ask = fields(key, device, false);
        ask.put("product_id", productId);
        Map<String, Object> issued = asMap(exchange("challenge", "POST", "/client/challenge", ask).get("data"));
        if (issued == null || !(issued.get("challenge") instanceof String)) {
            throw new LicenseCMException("The challenge answer has no challenge", "INVALID_RESPONSE", 0, issued);
        }
        String challenge = (String) issued.get("challenge");
        Map<String, Object> body = fields(key, device, false);
        body.put("challenge", challenge);
        body.put("response", Protocol.challengeResponse(secretKey, challenge, key, device));
        Map<String, Object> data = signedCall("challenge", body);
        if (!Boolean.TRUE.equals(data.get("valid"))) throw new LicenseCMException("The license is not valid", "INVALID_RESPONSE", 0, data);
        return data;
    }

    /** Starts (or restarts) the automatic heartbeat on a daemon thread. */
    public void startHeartbeat() {
        stopHeartbeat();
        synchronized (state) {
            if (scheduler == null) {
                scheduler = Executors.newSingleThreadScheduledExecutor(runnable -> {
                    Thread thread = new Thread(runnable, "licensecm-heartbeat");
                    thread.setDaemon(true);
                    return thread;
                });
            }
            heartbeatTask = scheduler.schedule(this::heartbeatTick, heartbeatIntervalMs, TimeUnit.MILLISECONDS);
        }
    }

    public void stopHeartbeat() {
        synchronized (state) {
            if (heartbeatTask != null) heartbeatTask.cancel(false);
            heartbeatTask = null;
        }
    }

    public boolean isHeartbeatRunning() {
        synchronized (state) {
            return heartbeatTask != null;
        }
    }

    public String getSessionToken() {
        synchronized (state) {
            return sessionToken;
        }
    }

    public String getHwid() {
        return device(null);
    }

    public boolean isSessionValid() {
        synchronized (state) {
            return sessionToken != null && (sessionExpires == null || Instant.now().isBefore(sessionExpires));
        }
    }

    public Map<String, Object> getSessionInfo() {
        Map<String, Object> info = new HashMap<>();
        synchronized (state) {
            info.put("token", sessionToken);
            info.put("expires", sessionExpires == null ? null : sessionExpires.toString());
            info.put("license_key", licenseKey);
            info.put("hwid", sessionHwid);
        }
        info.put("is_valid", isSessionValid());
        return info;
    }

    /** Stops the heartbeat thread. The seat stays taken: call deactivate() to free it. */
    @Override
    public void close() {
        stopHeartbeat();
        synchronized (state) {
            if (scheduler != null) scheduler.shutdownNow();
            scheduler = null;
        }
    }

    // --- requests and checks ---------------------------------------------------------------------

    private void heartbeatTick() {
        long delay = heartbeatIntervalMs;
        try {
            heartbeat(null, null);
        } catch (LicenseCMException e) {
            if (SESSION_ENDING_CODES.contains(e.getCode()) || "NOT_ACTIVATED".equals(e.getCode())) {
                synchronized (state) {
                    heartbeatTask = null;
                }
                return;
            }
            if (onHeartbeatFailed != null) safely(() -> onHeartbeatFailed.accept(e));
            delay = Math.min(heartbeatIntervalMs, HEARTBEAT_RETRY_MS);
        } catch (RuntimeException e) {
            if (onHeartbeatFailed != null) safely(() -> onHeartbeatFailed.accept(e));
            delay = Math.min(heartbeatIntervalMs, HEARTBEAT_RETRY_MS);
        }
        synchronized (state) {
            if (heartbeatTask != null && scheduler != null) {
                heartbeatTask = scheduler.schedule(this::heartbeatTick, delay, TimeUnit.MILLISECONDS);
            }
        }
    }

    private boolean endSession(String token) {
        boolean due;
        synchronized (state) {
            if (sessionToken != null && !sessionToken.equals(token)) return false; // replaced by a newer activation
            sessionToken = null;
            sessionExpires = null;
            due = !sessionEndReported;
            sessionEndReported = true;
        }
        stopHeartbeat();
        return due;
    }

    private void ensureInitialized() throws LicenseCMException {
        boolean ready;
        synchronized (state) {
            ready = publicKey != null;
        }
        if (!ready) initialize();
    }

    private Map<String, Object> signedCall(String action, Map<String, Object> body) throws LicenseCMException {
        ensureInitialized();
        byte[] raw = new byte[16];
        RANDOM.nextBytes(raw);
        String nonce = HexFormat.of().formatHex(raw);
        body.put("product_id", productId);
        body.put("nonce", nonce);
        Map<String, Object> answer = exchange(action, "POST", "/client/" + action, body);
        PublicKey key;
        String keyId;
        synchronized (state) {
            key = publicKey;
            keyId = publicKeyId;
        }
        String reason = Protocol.checkAnswer(key, keyId, answer.get("data"), nonce, System.currentTimeMillis(), maxClockSkewMs, body);
        if (reason != null) throw violation(action, reason);
        return asMap(answer.get("data"));
    }

    private Map<String, Object> exchange(String action, String method, String path, Map<String, Object> body)
        throws LicenseCMException {
        boolean sealed = useEncryption && body != null;
        HttpRequest.Builder request = HttpRequest.newBuilder(URI.create(apiUrl + path)).timeout(timeout)
            .header("Accept", "application/json").header("User-Agent", "licensecm-java/" + VERSION);
        if (body == null) {
            request.GET();
        } else {
            byte[] plain = Json.write(body).getBytes(StandardCharsets.UTF_8);
            String wire = sealed ? Json.write(Protocol.sealBytes(secretKey, productId, plain, System.currentTimeMillis(), null))
                : new String(plain, StandardCharsets.UTF_8);
            request.header("Content-Type", "application/json").POST(HttpRequest.BodyPublishers.ofString(wire));
        }
        HttpResponse<byte[]> response;
        try {
            response = http.send(request.build(), HttpResponse.BodyHandlers.ofByteArray());
        } catch (IOException e) {
            throw new LicenseCMException("No answer from the license server: " + e, "NETWORK_ERROR", 0, Map.of("action", action));
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new LicenseCMException("Interrupted", "NETWORK_ERROR", 0, Map.of("action", action));
        }
        int status = response.statusCode();
        Object parsed;
        try {
            if (response.body().length > MAX_ANSWER_BYTES) throw new IllegalArgumentException("too large");
            parsed = Json.parse(new String(response.body(), StandardCharsets.UTF_8));
        } catch (IllegalArgumentException e) {
            throw new LicenseCMException("The license server's answer is not JSON (HTTP " + status + ")", "INVALID_RESPONSE", status,
                Map.of("action", action));
        }
        if (sealed) parsed = open(action, parsed);
        Map<String, Object> answer = asMap(parsed);
        if (answer == null) throw new LicenseCMException("Unexpected answer (HTTP " + status + ")", "INVALID_RESPONSE", status, null);
        if (!Boolean.TRUE.equals(answer.get("success"))) throw refused(action, status, answer);
        return answer;
    }

    private Object open(String action, Object answer) throws LicenseCMException {
        Map<String, Object> map = asMap(answer);
        if (map != null && Boolean.TRUE.equals(map.get("encrypted"))) {
            if (!productId.equalsIgnoreCase(String.valueOf(map.get("product_id")))) {
                throw violation(action, "the encrypted answer is for another product");
            }
            try {
                return Protocol.openEnvelope(secretKey, map, System.currentTimeMillis(), maxClockSkewMs);
            } catch (Protocol.EnvelopeException e) {
                throw violation(action, "the encrypted answer failed its checks: " + e.getMessage());
            }
        }
        // The server answers a refused envelope in plain JSON (it cannot know whether the sender holds
        // the secret). A refusal grants nothing, so it is safe to read; a plain success is a downgrade.
        if (map != null && Boolean.FALSE.equals(map.get("success"))) return map;
        throw violation(action, "an encrypted request got an unencrypted answer");
    }

    private LicenseCMException refused(String action, int status, Map<String, Object> answer) {
        String code = answer.get("error_code") instanceof String ? (String) answer.get("error_code") : "HTTP_ERROR";
        String message = answer.get("message") instanceof String ? (String) answer.get("message") : "HTTP " + status;
        if ("SECURITY_VIOLATION".equals(code) || Boolean.TRUE.equals(answer.get("security_blocked"))) {
            Map<String, Object> details = new LinkedHashMap<>();
            details.put("source", "server");
            details.put("action", action);
            details.put("reason", message);
            details.put("code", code);
            details.put("status", status);
            if (answer.containsKey("security_details")) details.put("security_details", answer.get("security_details"));
            report(details);
        }
        Map<String, Object> details = new LinkedHashMap<>(answer);
        details.put("action", action);
        return new LicenseCMException(message, code, status, details);
    }

    private LicenseCMException violation(String action, String reason) {
        Map<String, Object> details = new LinkedHashMap<>();
        details.put("source", "client");
        details.put("action", action);
        details.put("reason", reason);
        report(details);
        return new LicenseCMException("Security violation: " + reason, "SECURITY_VIOLATION", 0, details);
    }

    private void report(Map<String, Object> details) {
        if (onSecurityViolation != null) safely(() -> onSecurityViolation.accept(details));
    }

    private static void safely(Runnable callback) {
        try {
            callback.run();
        } catch (RuntimeException e) {
            // a callback's own failure must not hide what happened
        }
    }

    private Map<String, Object> fields(String licenseKey, String hwid, boolean withClientData) {
        Map<String, Object> body = new LinkedHashMap<>();
        body.put("license_key", licenseKey);
        body.put("hwid", hwid);
        if (withClientData) {
            Map<String, Object> clientData = new LinkedHashMap<>();
            clientData.put("platform", truncate(System.getProperty("os.name", "")));
            clientData.put("os_version", truncate(System.getProperty("os.version", "")));
            clientData.put("vm_indicators", List.of());
            clientData.put("debug_indicators", List.of());
            body.put("client_data", clientData);
        }
        return body;
    }

    private static String truncate(String text) {
        return text.length() > 100 ? text.substring(0, 100) : text;
    }

    private String keyOrActivated(String licenseKey) throws LicenseCMException {
        if (licenseKey != null && !licenseKey.isEmpty()) return licenseKey;
        synchronized (state) {
            if (this.licenseKey != null) return this.licenseKey;
        }
        throw new LicenseCMException("No license key: pass one or call activate() first", "NOT_ACTIVATED", 0, null);
    }

    private String device(String hwid) {
        if (hwid != null && !hwid.isEmpty()) return hwid;
        synchronized (state) {
            if (sessionHwid != null) return sessionHwid;
        }
        return this.hwid != null && !this.hwid.isEmpty() ? this.hwid : Hwid.get();
    }

    @SuppressWarnings("unchecked")
    private static Map<String, Object> asMap(Object value) {
        return value instanceof Map ? (Map<String, Object>) value : null;
    }

    private static Instant parseTime(Object value) {
        try {
            return value instanceof String ? Instant.parse((String) value) : null;
        } catch (java.time.format.DateTimeParseException e) {
            return null;
        }
    }
}
