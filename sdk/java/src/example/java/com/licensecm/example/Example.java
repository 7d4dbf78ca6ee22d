package com.licensecm.example;

import com.licensecm.Json;
import com.licensecm.LicenseCM;
import com.licensecm.LicenseCMException;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.util.HexFormat;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;

/**
 * The conformance example: {@code java com.licensecm.example.Example STEP...}, one JSON line per step
 * (sdk/conformance/README.md). Reads BASE_URL, PRODUCT_ID, SECRET_KEY, LICENSE_KEY, USE_ENCRYPTION,
 * PINNED_KEY_ID, PINNED_PUBLIC_KEY, HWID, HEARTBEAT_INTERVAL_MS and WAIT_MS from the environment.
 */
public final class Example {
    interface Step {
        Map<String, Object> run() throws Exception;
    }

    private static synchronized void emit(Map<String, Object> line) {
        System.out.println(Json.write(line));
        System.out.flush();
    }

    private static String env(String name, String otherwise) {
        String value = System.getenv(name);
        return value == null || value.isEmpty() ? otherwise : value;
    }

    /** Session tokens are credentials: print only enough of their hash to see them change. */
    private static String fingerprint(Object token) throws Exception {
        byte[] digest = MessageDigest.getInstance("SHA-256").digest(String.valueOf(token).getBytes(StandardCharsets.UTF_8));
        return HexFormat.of().formatHex(digest).substring(0, 12);
    }

    private static Map<String, Object> line(Object... pairs) {
        Map<String, Object> map = new LinkedHashMap<>();
        for (int i = 0; i < pairs.length; i += 2) map.put((String) pairs[i], pairs[i + 1]);
        return map;
    }

    public static void main(String[] args) throws Exception {
        long intervalMs = Long.parseLong(env("HEARTBEAT_INTERVAL_MS", "0"));
        long waitMs = Long.parseLong(env("WAIT_MS", "10000"));
        String licenseKey = env("LICENSE_KEY", "");
        CountDownLatch expired = new CountDownLatch(1);

        LicenseCM client = new LicenseCM(env("BASE_URL", ""), env("PRODUCT_ID", ""), env("SECRET_KEY", null));
        client.setUseEncryption("1".equals(env("USE_ENCRYPTION", "0")))
            .setAutoHeartbeat(intervalMs > 0)
            .setHeartbeatInterval(intervalMs > 0 ? intervalMs : 300_000)
            .setHwid(env("HWID", null))
            .setOnSessionExpired(() -> {
                emit(line("event", "session_expired"));
                expired.countDown();
            })
            .setOnSecurityViolation(d -> emit(line("event", "security_violation", "source", d.get("source"), "action", d.get("action"))));
        if (env("PINNED_KEY_ID", null) != null) client.setPinnedKeyId(env("PINNED_KEY_ID", null));
        if (env("PINNED_PUBLIC_KEY", null) != null) client.setPinnedPublicKey(env("PINNED_PUBLIC_KEY", null));

        Map<String, Step> steps = new LinkedHashMap<>();
        steps.put("initialize", () -> {
            Map<String, Object> key = client.fetchPublicKey();
            return line("key_id", key.get("key_id"), "algorithm", key.get("algorithm"));
        });
        steps.put("activate", () -> {
            Map<?, ?> session = (Map<?, ?>) client.activate(licenseKey, null).get("session");
            return line("token", fingerprint(session.get("token")));
        });
        steps.put("validate", () -> line("watermark", client.validate(licenseKey, null).get("watermark")));
        steps.put("heartbeat", () -> line("token", fingerprint(client.heartbeat(null, null).get("new_token"))));
        steps.put("challenge", () -> line("valid", client.challenge(licenseKey).get("valid")));
        steps.put("deactivate", () -> line("deactivated", client.deactivate(licenseKey, null).get("deactivated")));
        steps.put("hwid", () -> line("hwid", LicenseCM.generateHwid()));
        steps.put("wait-expired", () -> {
            if (!expired.await(waitMs, TimeUnit.MILLISECONDS)) {
                throw new LicenseCMException("onSessionExpired was not called", "TIMEOUT", 0, null);
            }
            return line();
        });

        for (String name : args) {
            Step step = steps.get(name);
            if (step == null) {
                emit(line("step", name, "ok", false, "code", "UNKNOWN_STEP"));
                continue;
            }
            try {
                Map<String, Object> result = line("step", name, "ok", true);
                result.putAll(step.run());
                emit(result);
            } catch (LicenseCMException e) {
                emit(line("step", name, "ok", false, "code", e.getCode(), "status", e.getStatus() == 0 ? null : e.getStatus(),
                    "message", e.getMessage()));
            }
        }
        client.close();
    }
}
