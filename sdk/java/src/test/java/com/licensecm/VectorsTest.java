package com.licensecm;

import static org.junit.Assert.assertEquals;
import static org.junit.Assert.assertTrue;
import static org.junit.Assert.fail;

import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.PublicKey;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.List;
import java.util.Map;
import org.junit.Test;

/** The conformance vectors (sdk/conformance/vectors), made by KeyLedger's own code. */
public class VectorsTest {
    private static final Path VECTORS = Path.of(System.getProperty("vectors", "../conformance/vectors"));

    @SuppressWarnings("unchecked")
    private static Map<String, Object> load(String name) throws Exception {
        return (Map<String, Object>) Json.parse(Files.readString(VECTORS.resolve(name), StandardCharsets.UTF_8));
    }

    @SuppressWarnings("unchecked")
    private static List<Map<String, Object>> cases(Map<String, Object> file, String key) {
        return (List<Map<String, Object>>) file.get(key);
    }

    private static void check(List<String> failures) {
        if (!failures.isEmpty()) fail(String.join("\n", failures));
    }

    @Test
    public void canonicalJson() throws Exception {
        List<String> failures = new ArrayList<>();
        for (Map<String, Object> c : cases(load("canonical.json"), "cases")) {
            String got = Json.canonical(Json.parse((String) c.get("input")));
            if (!got.equals(c.get("canonical"))) failures.add(c.get("name") + ": " + got);
        }
        check(failures);
    }

    @Test
    @SuppressWarnings("unchecked")
    public void signedAnswers() throws Exception {
        Map<String, Object> file = load("answers.json");
        Map<String, Map<String, Object>> keys = (Map<String, Map<String, Object>>) file.get("keys");
        Map<String, Object> expect = (Map<String, Object>) file.get("expect");
        for (Map<String, Object> key : keys.values()) {
            assertEquals(key.get("key_id"), Protocol.keyId(Protocol.loadPublicKey((String) key.get("public_key"))));
        }
        List<String> failures = new ArrayList<>();
        for (Map<String, Object> c : cases(file, "cases")) {
            Map<String, Object> key = keys.get(c.get("key"));
            PublicKey publicKey = Protocol.loadPublicKey((String) key.get("public_key"));
            Map<String, Object> data = (Map<String, Object>) c.get("data");
            if (Protocol.verifyAnswerSignature(publicKey, data) != (Boolean) c.get("signature_valid")) {
                failures.add(c.get("name") + ": signature");
            }
            String reason = Protocol.checkAnswer(publicKey, (String) key.get("key_id"), data, (String) expect.get("nonce"),
                (Long) expect.get("now_ms"), (Long) expect.get("max_skew_ms"), expect);
            if ((reason == null) != (Boolean) c.get("accepted")) failures.add(c.get("name") + ": accepted? " + reason);
        }
        check(failures);
    }

    @Test
    public void envelopes() throws Exception {
        Map<String, Object> file = load("envelopes.json");
        String secret = (String) file.get("secret");
        List<String> failures = new ArrayList<>();
        for (Map<String, Object> c : cases(file, "open")) {
            try {
                Map<String, Object> opened = Protocol.openEnvelope(secret, c.get("envelope"), (Long) c.get("now_ms"),
                    Protocol.MAX_SKEW_MS);
                if (!(Boolean) c.get("opens") || !opened.equals(c.get("plaintext"))) failures.add(c.get("name") + ": opened " + opened);
            } catch (Protocol.EnvelopeException e) {
                if ((Boolean) c.get("opens")) failures.add(c.get("name") + ": refused " + e.getMessage());
            }
        }
        for (Map<String, Object> c : cases(file, "seal")) {
            Map<String, Object> sealed = Protocol.sealBytes((String) c.get("secret"), (String) c.get("product_id"),
                ((String) c.get("plaintext")).getBytes(StandardCharsets.UTF_8), (Long) c.get("timestamp"),
                HexFormat.of().parseHex((String) c.get("iv")));
            if (!sealed.equals(c.get("envelope"))) failures.add(c.get("name") + ": sealed " + sealed);
        }
        check(failures);
    }

    @Test
    public void challengeResponses() throws Exception {
        for (Map<String, Object> c : cases(load("challenges.json"), "cases")) {
            assertEquals((String) c.get("name"), c.get("response"), Protocol.challengeResponse((String) c.get("secret"),
                (String) c.get("challenge"), (String) c.get("license_key"), (String) c.get("hwid")));
        }
    }

    @Test
    public void hwid() throws Exception {
        for (Map<String, Object> c : cases(load("hwid.json"), "cases")) {
            assertEquals(c.get("hwid"), Hwid.fromMachineId((String) c.get("machine_id")));
        }
        assertTrue(Hwid.get().matches("[0-9a-f]{64}"));
        assertEquals(Hwid.get(), LicenseCM.generateHwid());
    }
}
