package com.licensecm;

import static org.junit.Assert.assertEquals;
import static org.junit.Assert.assertFalse;
import static org.junit.Assert.assertNotEquals;
import static org.junit.Assert.assertNull;
import static org.junit.Assert.assertTrue;
import static org.junit.Assert.fail;

import com.sun.net.httpserver.HttpExchange;
import com.sun.net.httpserver.HttpServer;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.nio.charset.StandardCharsets;
import java.security.KeyFactory;
import java.security.PrivateKey;
import java.security.PublicKey;
import java.security.Signature;
import java.security.spec.PKCS8EncodedKeySpec;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Base64;
import java.util.HashSet;
import java.util.HexFormat;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.UUID;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.Consumer;
import org.junit.After;
import org.junit.Before;
import org.junit.Test;

/** The client against a stand-in server (the real one is driven by sdk/conformance/scenario.py). */
public class ClientTest {
    private static final String SECRET = "sk_live_test_secret";
    private static final String PRODUCT = "3f2b8c1e-9a4d-4e6f-8b7a-1c2d3e4f5a6b";
    private HttpServer server;
    private PrivateKey privateKey;
    private String publicPem;
    private final Set<String> tokens = new HashSet<>();
    private final AtomicInteger posts = new AtomicInteger();
    private volatile boolean suspended;
    private volatile Consumer<Map<String, Object>> tamper;
    private final List<LicenseCM> clients = new ArrayList<>();

    @Before
    public void start() throws Exception {
        byte[] der = HexFormat.of().parseHex("302e020100300506032b657004220420"
            + "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f");
        privateKey = KeyFactory.getInstance("Ed25519").generatePrivate(new PKCS8EncodedKeySpec(der));
        publicPem = "-----BEGIN PUBLIC KEY-----\nMCowBQYDK2VwAyEAA6EHv/POEL4dcN0Y50vAmWfk1jCbpQ1fHdyGZBJVMbg=\n-----END PUBLIC KEY-----\n";
        server = HttpServer.create(new InetSocketAddress("127.0.0.1", 0), 0);
        server.createContext("/", this::handle);
        server.start();
    }

    @After
    public void stop() {
        clients.forEach(LicenseCM::close);
        server.stop(0);
    }

    private LicenseCM client() {
        LicenseCM client = new LicenseCM("http://127.0.0.1:" + server.getAddress().getPort(), PRODUCT, SECRET)
            .setAutoHeartbeat(false).setHwid("device-1");
        clients.add(client);
        return client;
    }

    @SuppressWarnings("unchecked")
    private synchronized void handle(HttpExchange exchange) throws java.io.IOException {
        String raw = new String(exchange.getRequestBody().readAllBytes(), StandardCharsets.UTF_8);
        Map<String, Object> body = raw.isEmpty() ? Map.of() : (Map<String, Object>) Json.parse(raw);
        boolean sealed = false;
        Map<String, Object> answer;
        int status = 200;
        if (Boolean.TRUE.equals(body.get("encrypted"))) {
            try {
                body = Protocol.openEnvelope(SECRET, body, System.currentTimeMillis(), Protocol.MAX_SKEW_MS);
                sealed = true;
            } catch (Protocol.EnvelopeException e) {
                send(exchange, 403, Map.of("success", false, "message", e.getMessage(), "error_code", "SECURITY_VIOLATION"));
                return;
            }
        }
        String action = exchange.getRequestURI().getPath().replace("/api/client/", "");
        try {
            answer = answer(action, body);
        } catch (IllegalStateException refusal) {
            String[] parts = refusal.getMessage().split(" ");
            status = Integer.parseInt(parts[0]);
            answer = Map.of("success", false, "message", parts[1], "error_code", parts[1]);
        }
        if (sealed) answer = Protocol.sealBytes(SECRET, PRODUCT, Json.write(answer).getBytes(StandardCharsets.UTF_8),
            System.currentTimeMillis(), null);
        send(exchange, status, answer);
    }

    private Map<String, Object> answer(String action, Map<String, Object> body) throws java.io.IOException {
        if (action.equals("public-key")) {
            try {
                return Map.of("success", true, "data", Map.of("public_key", publicPem, "algorithm", "ed25519",
                    "key_id", Protocol.keyId(Protocol.loadPublicKey(publicPem))));
            } catch (java.security.GeneralSecurityException e) {
                throw new IllegalStateException(e);
            }
        }
        posts.incrementAndGet();
        if (!"GOOD-KEY".equals(body.get("license_key"))) throw new IllegalStateException("404 LICENSE_NOT_FOUND");
        if (suspended) throw new IllegalStateException("403 LICENSE_SUSPENDED");
        Map<String, Object> data = new LinkedHashMap<>();
        switch (action) {
            case "activate":
                data.put("activated", true);
                data.put("session", Map.of("token", newToken(), "expires_at", "2999-01-01T00:00:00.000000Z"));
                break;
            case "validate":
                data.put("valid", true);
                data.put("watermark", "0".repeat(32));
                break;
            case "deactivate":
                data.put("deactivated", true);
                break;
            case "heartbeat":
                if (!tokens.remove(body.get("session_token"))) throw new IllegalStateException("401 SESSION_EXPIRED");
                data.put("valid", true);
                data.put("new_token", newToken());
                break;
            default:
                throw new IllegalStateException("404 NOT_FOUND");
        }
        data.put("timestamp", Instant.now().toString());
        data.put("key_id", "a050837d85070582");
        for (String name : new String[] {"license_key", "hwid", "nonce"}) data.put(name, body.get(name));
        data.put("product_id", PRODUCT);
        try {
            Signature signer = Signature.getInstance("Ed25519");
            signer.initSign(privateKey);
            signer.update(Protocol.answerMessage(data));
            data.put("signature", Base64.getEncoder().encodeToString(signer.sign()));
        } catch (java.security.GeneralSecurityException e) {
            throw new IllegalStateException(e);
        }
        if (tamper != null) tamper.accept(data);
        return Map.of("success", true, "data", data);
    }

    private String newToken() {
        String token = UUID.randomUUID().toString();
        tokens.add(token);
        return token;
    }

    private static void send(HttpExchange exchange, int status, Map<String, Object> answer) throws java.io.IOException {
        byte[] raw = Json.write(answer).getBytes(StandardCharsets.UTF_8);
        exchange.getResponseHeaders().set("Content-Type", "application/json");
        exchange.sendResponseHeaders(status, raw.length);
        exchange.getResponseBody().write(raw);
        exchange.close();
    }

    private static LicenseCMException refused(ThrowingCall call) {
        try {
            call.run();
        } catch (LicenseCMException e) {
            return e;
        } catch (Exception e) {
            throw new AssertionError(e);
        }
        throw new AssertionError("no LicenseCMException");
    }

    interface ThrowingCall {
        void run() throws Exception;
    }

    @Test
    public void lifecyclePlainAndEncrypted() throws Exception {
        for (boolean encrypted : new boolean[] {false, true}) {
            List<Map<String, Object>> violations = new ArrayList<>();
            LicenseCM client = client().setUseEncryption(encrypted).setOnSecurityViolation(violations::add);
            client.activate("GOOD-KEY", null);
            String first = client.getSessionToken();
            assertEquals(true, client.validate(null, null).get("valid"));
            Map<String, Object> beat = client.heartbeat(null, null);
            assertEquals(beat.get("new_token"), client.getSessionToken());
            assertNotEquals(first, client.getSessionToken());
            assertEquals(true, client.deactivate(null, null).get("deactivated"));
            assertNull(client.getSessionToken());
            assertEquals("NOT_ACTIVATED", refused(() -> client.heartbeat(null, null)).getCode());
            assertTrue(violations.isEmpty());
        }
    }

    @Test
    public void refusalCarriesCodeAndStatus() {
        LicenseCMException e = refused(() -> client().validate("BAD-KEY", null));
        assertEquals("LICENSE_NOT_FOUND", e.getCode());
        assertEquals(404, e.getStatus());
    }

    @Test
    public void tamperedOrUnsignedAnswersAreRefused() {
        List<Consumer<Map<String, Object>>> tamperings = List.of(d -> d.put("watermark", "f".repeat(32)), d -> d.remove("signature"));
        for (Consumer<Map<String, Object>> change : tamperings) {
            tamper = change;
            List<Object> sources = new ArrayList<>();
            LicenseCMException e = refused(() -> client().setOnSecurityViolation(d -> sources.add(d.get("source")))
                .validate("GOOD-KEY", null));
            assertEquals("SECURITY_VIOLATION", e.getCode());
            assertEquals(0, e.getStatus());
            assertEquals(List.of("client"), sources);
        }
    }

    @Test
    public void aPinnedKeyThatDiffersStopsEveryRequest() throws Exception {
        LicenseCM client = client().setPinnedKeyId("0000000000000000");
        assertEquals("SECURITY_VIOLATION", refused(client::initialize).getCode());
        assertEquals("SECURITY_VIOLATION", refused(() -> client.activate("GOOD-KEY", null)).getCode());
        assertEquals(0, posts.get());
        assertEquals(true, client().setPinnedPublicKey(publicPem).activate("GOOD-KEY", null).get("activated"));
    }

    @Test
    public void aWrongSecretIsTheServersViolation() {
        List<Object> sources = new ArrayList<>();
        LicenseCM client = new LicenseCM("http://127.0.0.1:" + server.getAddress().getPort(), PRODUCT, "sk_live_wrong")
            .setUseEncryption(true).setAutoHeartbeat(false).setHwid("d").setOnSecurityViolation(d -> sources.add(d.get("source")));
        clients.add(client);
        LicenseCMException e = refused(() -> client.activate("GOOD-KEY", null));
        assertEquals("SECURITY_VIOLATION", e.getCode());
        assertEquals(403, e.getStatus());
        assertEquals(List.of("server"), sources);
    }

    @Test
    public void theHeartbeatRotatesAndASuspensionEndsTheSessionOnce() throws Exception {
        AtomicInteger expired = new AtomicInteger();
        LicenseCM client = client().setAutoHeartbeat(true).setHeartbeatInterval(30).setOnSessionExpired(expired::incrementAndGet);
        client.activate("GOOD-KEY", null);
        Set<String> seen = new HashSet<>();
        long deadline = System.currentTimeMillis() + 3000;
        while (seen.size() < 3 && System.currentTimeMillis() < deadline) {
            seen.add(client.getSessionToken());
            Thread.sleep(5);
        }
        assertTrue("tokens rotated: " + seen, seen.size() >= 3);
        suspended = true;
        deadline = System.currentTimeMillis() + 3000;
        while (expired.get() == 0 && System.currentTimeMillis() < deadline) Thread.sleep(5);
        Thread.sleep(150);
        assertEquals(1, expired.get());
        assertNull(client.getSessionToken());
        assertFalse(client.isHeartbeatRunning());
    }

    @Test
    public void noAnswerIsANetworkError() throws Exception {
        int port;
        try (ServerSocket socket = new ServerSocket(0)) {
            port = socket.getLocalPort();
        }
        LicenseCM client = new LicenseCM("http://127.0.0.1:" + port, PRODUCT, null);
        assertEquals("NETWORK_ERROR", refused(client::initialize).getCode());
    }

    @Test
    public void aBadBaseUrlIsRefused() {
        try {
            new LicenseCM("ftp://h", PRODUCT, null);
            fail("accepted ftp://");
        } catch (IllegalArgumentException expected) {
            // an http(s) URL is required
        }
    }
}
