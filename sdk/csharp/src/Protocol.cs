using System;
using System.Collections.Generic;
using System.Globalization;
using System.Linq;
using System.Security.Cryptography;
using System.Text;
using System.Text.RegularExpressions;

namespace LicenseCM
{
    /// <summary>Thrown when an envelope must not be trusted: malformed, bad HMAC, stale, failing GCM or not JSON.</summary>
    public class EnvelopeException : Exception
    {
        public EnvelopeException(string message) : base(message) { }
    }

    /// <summary>A server signing key: its DER SubjectPublicKeyInfo and what verifying needs.</summary>
    public sealed class SigningPublicKey
    {
        public byte[] Der { get; internal set; }
        public string Algorithm { get; internal set; } // "rsa" or "ed25519"
        internal RSAParameters Rsa;
        internal byte[] Ed25519Key;
    }

    /// <summary>
    /// The wire protocol with no network in it: keys and key ids, answer signatures, the envelope,
    /// challenge-response. Checked against sdk/conformance/vectors (made by KeyLedger's own code).
    /// </summary>
    public static class Protocol
    {
        public const int IvBytes = 16;
        public const int TagBytes = 16;
        public const long MaxSkewMs = 5 * 60 * 1000;
        /// <summary>Request fields a signed answer repeats; each must be there and equal what was sent.</summary>
        public static readonly string[] BoundFields = { "product_id", "license_key", "hwid" };
        static readonly Regex Hex = new Regex("^[0-9a-fA-F]*$");
        static readonly RandomNumberGenerator Random = RandomNumberGenerator.Create();

        // --- keys and signed answers ----------------------------------------------------------------

        /// <summary>A SubjectPublicKeyInfo PEM as served by GET /api/client/public-key: RSA (2048 bits or more) or Ed25519.</summary>
        public static SigningPublicKey LoadPublicKey(string pem)
        {
            var match = Regex.Match(pem ?? "", "-----BEGIN PUBLIC KEY-----(.+?)-----END PUBLIC KEY-----", RegexOptions.Singleline);
            if (!match.Success) throw new CryptographicException("not a PUBLIC KEY PEM");
            byte[] der;
            try { der = Convert.FromBase64String(Regex.Replace(match.Groups[1].Value, "\\s", "")); }
            catch (FormatException) { throw new CryptographicException("not a PUBLIC KEY PEM"); }
            var reader = new Der(der);
            var spki = reader.Sequence();
            var algorithm = spki.Sequence();
            string oid = BitConverter.ToString(algorithm.Take(0x06)).Replace("-", "").ToLowerInvariant();
            byte[] bits = spki.Take(0x03);
            if (bits.Length < 1 || bits[0] != 0) throw new CryptographicException("bad BIT STRING");
            var key = bits.Skip(1).ToArray();
            if (oid == "2b6570" && key.Length == 32)
                return new SigningPublicKey { Der = der, Algorithm = "ed25519", Ed25519Key = key };
            if (oid == "2a864886f70d010101")
            {
                var rsa = new Der(key).Sequence();
                byte[] modulus = TrimSign(rsa.Take(0x02)), exponent = TrimSign(rsa.Take(0x02));
                if (modulus.Length * 8 < 2048) throw new CryptographicException("RSA key under 2048 bits");
                return new SigningPublicKey { Der = der, Algorithm = "rsa", Rsa = new RSAParameters { Modulus = modulus, Exponent = exponent } };
            }
            throw new CryptographicException("unsupported signing key: only RSA and Ed25519");
        }

        static byte[] TrimSign(byte[] integer)
        {
            int skip = 0;
            while (skip < integer.Length - 1 && integer[skip] == 0) skip++;
            return integer.Skip(skip).ToArray();
        }

        /// <summary>A minimal DER reader: enough for a SubjectPublicKeyInfo.</summary>
        sealed class Der
        {
            readonly byte[] bytes;
            int at;

            public Der(byte[] bytes) { this.bytes = bytes; }

            public byte[] Take(int tag)
            {
                if (at + 2 > bytes.Length || bytes[at] != tag) throw new CryptographicException("unexpected DER");
                at++;
                int length = bytes[at++];
                if (length > 0x80)
                {
                    int count = length & 0x7f;
                    length = 0;
                    for (int i = 0; i < count; i++) length = (length << 8) | bytes[at++];
                }
                else if (length == 0x80) throw new CryptographicException("indefinite DER length");
                if (length < 0 || at + length > bytes.Length) throw new CryptographicException("DER length out of range");
                var value = new byte[length];
                Buffer.BlockCopy(bytes, at, value, 0, length);
                at += length;
                return value;
            }

            public Der Sequence() { return new Der(Take(0x30)); }
        }

        /// <summary>First 16 hex of SHA-256 over the key's DER SubjectPublicKeyInfo.</summary>
        public static string KeyId(SigningPublicKey key)
        {
            return ToHex(Sha256(key.Der)).Substring(0, 16);
        }

        /// <summary>What an answer's signature covers: canonical JSON of data without "signature", UTF-8.</summary>
        public static byte[] AnswerMessage(IDictionary<string, object> data)
        {
            var signed = data.Where(pair => pair.Key != "signature").ToDictionary(pair => pair.Key, pair => pair.Value);
            return Encoding.UTF8.GetBytes(Json.Canonical(signed));
        }

        /// <summary>True only when data["signature"] is a valid signature of data by key (RSA PKCS#1 v1.5 SHA-256, or Ed25519).</summary>
        public static bool VerifyAnswerSignature(SigningPublicKey key, IDictionary<string, object> data)
        {
            object text;
            if (data == null || !data.TryGetValue("signature", out text) || !(text is string)) return false;
            try
            {
                byte[] signature = Convert.FromBase64String((string)text);
                byte[] message = AnswerMessage(data);
                if (key.Algorithm == "ed25519") return Ed25519.Verify(key.Ed25519Key, message, signature);
                using (var rsa = RSA.Create())
                {
                    rsa.ImportParameters(key.Rsa);
                    return rsa.VerifyData(message, signature, HashAlgorithmName.SHA256, RSASignaturePadding.Pkcs1);
                }
            }
            catch (FormatException) { return false; }
            catch (CryptographicException) { return false; }
            catch (ArgumentException) { return false; }
        }

        /// <summary>
        /// Why a successful answer must be refused, or null when it may be trusted: a valid signature by key,
        /// that key's id, this request's nonce, a server time within maxSkewMs of nowMs, and the product,
        /// license key and device of the request.
        /// </summary>
        public static string CheckAnswer(SigningPublicKey key, string expectedKeyId, object answerData, string nonce, long nowMs,
                                         long maxSkewMs, IDictionary<string, object> request)
        {
            var data = answerData as IDictionary<string, object>;
            if (data == null || !data.ContainsKey("signature")) return "the answer is not signed";
            if (!VerifyAnswerSignature(key, data)) return "the answer's signature does not verify";
            if (!Equals(data.Get("key_id"), expectedKeyId)) return "the answer names another signing key";
            if (nonce == null || !Equals(data.Get("nonce"), nonce)) return "the answer does not echo this request's nonce (replayed answer?)";
            long? serverMs = ParseTimeMs(data.Get("timestamp"));
            if (serverMs == null) return "the answer has no valid timestamp";
            if (Math.Abs(nowMs - serverMs.Value) > maxSkewMs) return "the answer's timestamp is too far from the local clock";
            foreach (var name in BoundFields)
            {
                var got = data.Get(name) as string;
                var wanted = request.Get(name);
                if (got == null || wanted == null || !string.Equals(got, wanted.ToString(), StringComparison.OrdinalIgnoreCase))
                    return "the answer is about another " + name;
            }
            return null;
        }

        internal static object Get(this IDictionary<string, object> map, string name)
        {
            object value;
            return map != null && map.TryGetValue(name, out value) ? value : null;
        }

        /// <summary>Milliseconds since the epoch of an ISO-8601 time with a zone, or null.</summary>
        public static long? ParseTimeMs(object value)
        {
            var text = value as string;
            if (text == null || !Regex.IsMatch(text, "^\\d{4}-\\d{2}-\\d{2}T\\d{2}:\\d{2}:\\d{2}(\\.\\d+)?(Z|[+-]\\d{2}:\\d{2})$")) return null;
            DateTimeOffset parsed;
            // DateTimeOffset takes at most 7 fraction digits: microseconds fit.
            if (!DateTimeOffset.TryParse(text, CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal, out parsed)) return null;
            return parsed.ToUnixTimeMilliseconds();
        }

        // --- the envelope -------------------------------------------------------------------------

        internal static byte[] Sha256(byte[] bytes)
        {
            using (var sha = SHA256.Create()) return sha.ComputeHash(bytes);
        }

        public static string ToHex(byte[] bytes)
        {
            var output = new StringBuilder(bytes.Length * 2);
            foreach (var b in bytes) output.Append(b.ToString("x2"));
            return output.ToString();
        }

        public static byte[] FromHex(string hex)
        {
            var bytes = new byte[hex.Length / 2];
            for (int i = 0; i < bytes.Length; i++) bytes[i] = Convert.ToByte(hex.Substring(2 * i, 2), 16);
            return bytes;
        }

        static byte[] Hmac(string secretKey, string message)
        {
            using (var hmac = new HMACSHA256(Encoding.UTF8.GetBytes(secretKey))) return hmac.ComputeHash(Encoding.UTF8.GetBytes(message));
        }

        /// <summary>hex HMAC-SHA256(secret key, iv:data:tag:timestamp) over the strings as sent.</summary>
        public static string EnvelopeHmac(string secretKey, string iv, string data, string tag, long timestamp)
        {
            return ToHex(Hmac(secretKey, iv + ":" + data + ":" + tag + ":" + timestamp.ToString(CultureInfo.InvariantCulture)));
        }

        /// <summary>Seals the exact bytes plaintext; pass iv and timestampMs only to reproduce a test vector.</summary>
        public static Dictionary<string, object> SealBytes(string secretKey, string productId, byte[] plaintext, long timestampMs,
                                                          byte[] iv = null)
        {
            if (iv == null)
            {
                iv = new byte[IvBytes];
                Random.GetBytes(iv);
            }
            if (iv.Length != IvBytes) throw new ArgumentException("the iv must be 16 bytes");
            byte[] tag;
            byte[] ciphertext = AesGcm16.Encrypt(Sha256(Encoding.UTF8.GetBytes(secretKey)), iv, plaintext, out tag);
            string ivHex = ToHex(iv), data = ToHex(ciphertext), tagHex = ToHex(tag);
            return new Dictionary<string, object>
            {
                { "encrypted", true }, { "iv", ivHex }, { "data", data }, { "tag", tagHex },
                { "signature", EnvelopeHmac(secretKey, ivHex, data, tagHex, timestampMs) },
                { "product_id", productId }, { "timestamp", timestampMs },
            };
        }

        static string HexField(IDictionary<string, object> envelope, string name, int length)
        {
            var value = envelope.Get(name) as string;
            if (value == null || !Hex.IsMatch(value) || value.Length % 2 != 0) throw new EnvelopeException("envelope field " + name + " is not hex");
            if (length > 0 && value.Length != length) throw new EnvelopeException("envelope field " + name + " has the wrong length");
            return value;
        }

        /// <summary>The JSON object inside, checked in the server's order: shape, HMAC, clock, GCM, JSON.</summary>
        public static Dictionary<string, object> OpenEnvelope(string secretKey, object value, long nowMs, long maxSkewMs = MaxSkewMs)
        {
            var envelope = value as IDictionary<string, object>;
            if (envelope == null || !true.Equals(envelope.Get("encrypted"))) throw new EnvelopeException("not an encrypted envelope");
            string iv = HexField(envelope, "iv", IvBytes * 2), data = HexField(envelope, "data", 0);
            string tag = HexField(envelope, "tag", TagBytes * 2), signature = HexField(envelope, "signature", 64);
            if (!(envelope.Get("timestamp") is long)) throw new EnvelopeException("envelope timestamp is not an integer");
            long timestamp = (long)envelope.Get("timestamp");
            byte[] expected = FromHex(EnvelopeHmac(secretKey, iv, data, tag, timestamp)), given = FromHex(signature);
            int difference = 0;
            for (int i = 0; i < expected.Length; i++) difference |= expected[i] ^ given[i];
            if (difference != 0) throw new EnvelopeException("envelope HMAC does not match");
            if (Math.Abs(nowMs - timestamp) > maxSkewMs) throw new EnvelopeException("envelope timestamp is outside the allowed clock skew");
            byte[] plaintext = AesGcm16.Decrypt(Sha256(Encoding.UTF8.GetBytes(secretKey)), FromHex(iv), FromHex(data), FromHex(tag));
            if (plaintext == null) throw new EnvelopeException("envelope does not decrypt");
            object payload;
            try { payload = Json.Parse(new UTF8Encoding(false, true).GetString(plaintext)); }
            catch (FormatException) { throw new EnvelopeException("envelope plaintext is not JSON"); }
            catch (ArgumentException) { throw new EnvelopeException("envelope plaintext is not UTF-8"); }
            var map = payload as Dictionary<string, object>;
            if (map == null) throw new EnvelopeException("envelope plaintext is not a JSON object");
            return map;
        }

        // --- challenge-response -------------------------------------------------------------------

        /// <summary>hex HMAC-SHA256(secret key, challenge + licenseKey + hwid).</summary>
        public static string ChallengeResponse(string secretKey, string challenge, string licenseKey, string hwid)
        {
            return ToHex(Hmac(secretKey, challenge + licenseKey + hwid));
        }
    }
}
