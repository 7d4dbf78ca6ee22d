using System;
using System.Collections.Generic;
using System.IO;
using System.Linq;
using System.Text;

namespace LicenseCM.Tests
{
    /// <summary>The conformance vectors (sdk/conformance/vectors, made by KeyLedger's own code), NIST GCM and RFC 8032.</summary>
    public static class VectorTests
    {
        static Dictionary<string, object> Load(string name)
        {
            string folder = Environment.GetEnvironmentVariable("VECTORS") ?? Path.Combine("..", "conformance", "vectors");
            return (Dictionary<string, object>)Json.Parse(File.ReadAllText(Path.Combine(folder, name), Encoding.UTF8));
        }

        static IEnumerable<Dictionary<string, object>> Cases(Dictionary<string, object> file, string key = "cases")
        {
            return ((List<object>)file[key]).Cast<Dictionary<string, object>>();
        }

        static void NoFailures(List<string> failures)
        {
            if (failures.Count > 0) throw new Exception(string.Join("\n", failures));
        }

        public static void TestCanonicalJson()
        {
            var failures = new List<string>();
            foreach (var c in Cases(Load("canonical.json")))
            {
                string got = Json.Canonical(Json.Parse((string)c["input"]));
                if (got != (string)c["canonical"]) failures.Add(c["name"] + ": " + got);
            }
            NoFailures(failures);
        }

        public static void TestSignedAnswers()
        {
            var file = Load("answers.json");
            var keys = (Dictionary<string, object>)file["keys"];
            var expect = (Dictionary<string, object>)file["expect"];
            foreach (var key in keys.Values.Cast<Dictionary<string, object>>())
                Assert.Equal(key["key_id"], Protocol.KeyId(Protocol.LoadPublicKey((string)key["public_key"])), "key id");
            var failures = new List<string>();
            foreach (var c in Cases(file))
            {
                var key = (Dictionary<string, object>)keys[(string)c["key"]];
                var publicKey = Protocol.LoadPublicKey((string)key["public_key"]);
                var data = (Dictionary<string, object>)c["data"];
                if (Protocol.VerifyAnswerSignature(publicKey, data) != (bool)c["signature_valid"]) failures.Add(c["name"] + ": signature");
                string reason = Protocol.CheckAnswer(publicKey, (string)key["key_id"], data, (string)expect["nonce"],
                    (long)expect["now_ms"], (long)expect["max_skew_ms"], expect);
                if ((reason == null) != (bool)c["accepted"]) failures.Add(c["name"] + ": accepted? " + reason);
            }
            NoFailures(failures);
        }

        public static void TestEnvelopes()
        {
            var file = Load("envelopes.json");
            string secret = (string)file["secret"];
            var failures = new List<string>();
            foreach (var c in Cases(file, "open"))
            {
                try
                {
                    var opened = Protocol.OpenEnvelope(secret, c["envelope"], (long)c["now_ms"]);
                    if (!(bool)c["opens"] || Json.Canonical(opened) != Json.Canonical(c["plaintext"])) failures.Add(c["name"] + ": opened");
                }
                catch (EnvelopeException error)
                {
                    if ((bool)c["opens"]) failures.Add(c["name"] + ": " + error.Message);
                }
            }
            foreach (var c in Cases(file, "seal"))
            {
                var sealedEnvelope = Protocol.SealBytes((string)c["secret"], (string)c["product_id"],
                    Encoding.UTF8.GetBytes((string)c["plaintext"]), (long)c["timestamp"], Protocol.FromHex((string)c["iv"]));
                if (Json.Canonical(sealedEnvelope) != Json.Canonical(c["envelope"])) failures.Add(c["name"] + ": sealed " + Json.Write(sealedEnvelope));
            }
            NoFailures(failures);
        }

        public static void TestChallengeResponses()
        {
            foreach (var c in Cases(Load("challenges.json")))
                Assert.Equal(c["response"], Protocol.ChallengeResponse((string)c["secret"], (string)c["challenge"],
                    (string)c["license_key"], (string)c["hwid"]), (string)c["name"]);
        }

        public static void TestHwid()
        {
            foreach (var c in Cases(Load("hwid.json")))
                Assert.Equal(c["hwid"], Hwid.FromMachineId((string)c["machine_id"]));
            Assert.That(System.Text.RegularExpressions.Regex.IsMatch(Hwid.Get(), "^[0-9a-f]{64}$"), "HWID is 64 hex");
            Assert.Equal(Hwid.Get(), Hwid.Get());
        }

        public static void TestGcmAgainstNistVectors()
        {
            // McGrew and Viega, "The Galois/Counter Mode of Operation", test cases 13, 14 and 15 (AES-256).
            var cases = new[]
            {
                new[] { new string('0', 64), new string('0', 24), "", "", "530f8afbc74536b9a963b4f1c4cb738b" },
                new[] { new string('0', 64), new string('0', 24), new string('0', 32), "cea7403d4d606b6e074ec5d3baf39d18",
                        "d0d1c8a799996bf0265b98b5d48ab919" },
                new[] { "feffe9928665731c6d6a8f9467308308feffe9928665731c6d6a8f9467308308", "cafebabefacedbaddecaf888",
                        "d9313225f88406e5a55909c5aff5269a86a7a9531534f7da2e4c303d8a318a721c3c0c95956809532fcf0e2449a6b525b16aedf5aa0de657ba637b391aafd255",
                        "522dc1f099567d07f47f37a32a84427d643a8cdcbfe5c0c97598a2bd2555d1aa8cb08e48590dbb3da7b08b1056828838c5f61e6393ba7a0abcc9f662898015ad",
                        "b094dac5d93471bdec1a502270e3cc6c" },
            };
            foreach (var c in cases)
            {
                byte[] tag;
                byte[] ciphertext = AesGcm16.Encrypt(Protocol.FromHex(c[0]), Protocol.FromHex(c[1]), Protocol.FromHex(c[2]), out tag);
                Assert.Equal(c[3], Protocol.ToHex(ciphertext), "ciphertext");
                Assert.Equal(c[4], Protocol.ToHex(tag), "tag");
                Assert.Equal(c[2], Protocol.ToHex(AesGcm16.Decrypt(Protocol.FromHex(c[0]), Protocol.FromHex(c[1]), ciphertext, tag)), "plaintext");
                tag[0] ^= 1;
                Assert.That(AesGcm16.Decrypt(Protocol.FromHex(c[0]), Protocol.FromHex(c[1]), ciphertext, tag) == null, "a bad tag is refused");
            }
        }

        public static void TestEd25519AgainstRfc8032()
        {
            var cases = new[]
            {
                new[] { "d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a", "",
                        "e5564300c360ac729086e2cc806e828a84877f1eb8e5d974d873e065224901555fb8821590a33bacc61e39701cf9b46bd25bf5f0595bbe24655141438e7a100b" },
                new[] { "3d4017c3e843895a92b70aa74d1b7ebc9c982ccf2ec4968cc0cd55f12af4660c", "72",
                        "92a009a9f0d4cab8720e820b5f642540a2b27b5416503f8fb3762223ebdb69da085ac1e43e15996e458f3613d0f11d8c387b2eaeb4302aeeb00d291612bb0c00" },
            };
            foreach (var c in cases)
            {
                byte[] key = Protocol.FromHex(c[0]), message = Protocol.FromHex(c[1]), signature = Protocol.FromHex(c[2]);
                Assert.That(Ed25519.Verify(key, message, signature), "RFC 8032 signature verifies");
                signature[5] ^= 0x10;
                Assert.That(!Ed25519.Verify(key, message, signature), "a changed signature does not");
            }
        }
    }
}
