using System;
using System.Collections.Generic;
using System.IO;
using System.Net;
using System.Net.Sockets;
using System.Security.Cryptography;
using System.Text;
using System.Threading;

namespace LicenseCM.Tests
{
    static class MapExtensions
    {
        public static object Get(this IDictionary<string, object> map, string name)
        {
            object value;
            return map.TryGetValue(name, out value) ? value : null;
        }
    }

    /// <summary>A stand-in for KeyLedger's client API on HttpListener, signing with an RSA-2048 key made here.</summary>
    sealed class FakeServer : IDisposable
    {
        public const string Secret = "sk_live_test_secret";
        public const string Product = "3f2b8c1e-9a4d-4e6f-8b7a-1c2d3e4f5a6b";
        readonly HttpListener listener = new HttpListener();
        static readonly RSA rsa = new RSACryptoServiceProvider(2048); // slow to make on Mono: one for every test
        readonly HashSet<string> tokens = new HashSet<string>();
        public readonly string Url;
        public readonly string PublicPem;
        public int Posts;
        public volatile bool Suspended;
        public Action<Dictionary<string, object>> Tamper;

        public FakeServer()
        {
            var parameters = rsa.ExportParameters(false);
            PublicPem = "-----BEGIN PUBLIC KEY-----\n" + Convert.ToBase64String(Spki(parameters)) + "\n-----END PUBLIC KEY-----\n";
            int port;
            var probe = new TcpListener(IPAddress.Loopback, 0);
            probe.Start();
            port = ((IPEndPoint)probe.LocalEndpoint).Port;
            probe.Stop();
            Url = "http://127.0.0.1:" + port + "/";
            listener.Prefixes.Add(Url);
            listener.Start();
            new Thread(Serve) { IsBackground = true }.Start();
        }

        static byte[] Der(byte tag, byte[] content)
        {
            var output = new List<byte> { tag };
            if (content.Length < 0x80) output.Add((byte)content.Length);
            else if (content.Length < 0x100) { output.Add(0x81); output.Add((byte)content.Length); }
            else { output.Add(0x82); output.Add((byte)(content.Length >> 8)); output.Add((byte)content.Length); }
            output.AddRange(content);
            return output.ToArray();
        }

        static byte[] Concat(params byte[][] parts)
        {
            var output = new List<byte>();
            foreach (var part in parts) output.AddRange(part);
            return output.ToArray();
        }

        static byte[] Integer(byte[] value)
        {
            return Der(0x02, (value[0] & 0x80) != 0 ? Concat(new byte[] { 0 }, value) : value);
        }

        static byte[] Spki(RSAParameters key)
        {
            var algorithm = Der(0x30, Concat(Der(0x06, Protocol.FromHex("2a864886f70d010101")), new byte[] { 0x05, 0x00 }));
            var rsaKey = Der(0x30, Concat(Integer(key.Modulus), Integer(key.Exponent)));
            return Der(0x30, Concat(algorithm, Der(0x03, Concat(new byte[] { 0 }, rsaKey))));
        }

        void Serve()
        {
            while (listener.IsListening)
            {
                HttpListenerContext context;
                try { context = listener.GetContext(); }
                catch (Exception) { return; }
                lock (this) Handle(context);
            }
        }

        void Handle(HttpListenerContext context)
        {
            string raw = new StreamReader(context.Request.InputStream, Encoding.UTF8).ReadToEnd();
            var body = raw.Length == 0 ? new Dictionary<string, object>() : (Dictionary<string, object>)Json.Parse(raw);
            bool sealedRequest = false;
            if (true.Equals(body.Get("encrypted")))
            {
                try
                {
                    body = Protocol.OpenEnvelope(Secret, body, DateTimeOffset.UtcNow.ToUnixTimeMilliseconds());
                    sealedRequest = true;
                }
                catch (EnvelopeException error)
                {
                    Send(context, 403, new Dictionary<string, object> { { "success", false }, { "message", error.Message },
                        { "error_code", "SECURITY_VIOLATION" } });
                    return;
                }
            }
            int status;
            var answer = Answer(context.Request.Url.AbsolutePath.Replace("/api/client/", ""), body, out status);
            if (sealedRequest) answer = Protocol.SealBytes(Secret, Product, Encoding.UTF8.GetBytes(Json.Write(answer)),
                DateTimeOffset.UtcNow.ToUnixTimeMilliseconds());
            Send(context, status, answer);
        }

        Dictionary<string, object> Answer(string action, Dictionary<string, object> body, out int status)
        {
            status = 200;
            if (action == "public-key")
                return new Dictionary<string, object> { { "success", true }, { "data", new Dictionary<string, object> {
                    { "public_key", PublicPem }, { "key_id", Protocol.KeyId(Protocol.LoadPublicKey(PublicPem)) }, { "algorithm", "rsa-4096" } } } };
            Posts++;
            string refusal = null;
            var data = new Dictionary<string, object>();
            if (!"GOOD-KEY".Equals(body.Get("license_key"))) { status = 404; refusal = "LICENSE_NOT_FOUND"; }
            else if (Suspended) { status = 403; refusal = "LICENSE_SUSPENDED"; }
            else if (action == "activate")
            {
                data["activated"] = true;
                data["session"] = new Dictionary<string, object> { { "token", NewToken() }, { "expires_at", "2999-01-01T00:00:00.000000Z" } };
            }
            else if (action == "validate") { data["valid"] = true; data["watermark"] = new string('0', 32); }
            else if (action == "deactivate") data["deactivated"] = true;
            else if (action == "heartbeat" && tokens.Remove(body.Get("session_token") as string ?? ""))
            {
                data["valid"] = true;
                data["new_token"] = NewToken();
            }
            else { status = 401; refusal = "SESSION_EXPIRED"; }
            if (refusal != null)
                return new Dictionary<string, object> { { "success", false }, { "message", refusal }, { "error_code", refusal } };
            data["timestamp"] = DateTime.UtcNow.ToString("yyyy-MM-ddTHH:mm:ss.ffffffZ");
            data["key_id"] = Protocol.KeyId(Protocol.LoadPublicKey(PublicPem));
            data["product_id"] = Product;
            foreach (var name in new[] { "license_key", "hwid", "nonce" }) data[name] = body.Get(name);
            data["signature"] = Convert.ToBase64String(rsa.SignData(Protocol.AnswerMessage(data), HashAlgorithmName.SHA256,
                RSASignaturePadding.Pkcs1));
            Tamper?.Invoke(data);
            return new Dictionary<string, object> { { "success", true }, { "data", data } };
        }

        string NewToken()
        {
            string token = Guid.NewGuid().ToString("N");
            tokens.Add(token);
            return token;
        }

        static void Send(HttpListenerContext context, int status, Dictionary<string, object> answer)
        {
            byte[] raw = Encoding.UTF8.GetBytes(Json.Write(answer));
            context.Response.StatusCode = status;
            context.Response.ContentType = "application/json";
            context.Response.ContentLength64 = raw.Length;
            context.Response.OutputStream.Write(raw, 0, raw.Length);
            context.Response.Close();
        }

        public LicenseCMClient Client(string secret = Secret, bool useEncryption = false, bool autoHeartbeat = false, int intervalMs = 300000)
        {
            return new LicenseCMClient(Url, Product, secret, useEncryption, autoHeartbeat, intervalMs) { Hwid = "device-1" };
        }

        public void Dispose()
        {
            listener.Stop();
            listener.Close();
        }
    }

    /// <summary>The client against the stand-in server (the real one is driven by sdk/conformance/scenario.py).</summary>
    public static class ClientTests
    {
        public static void TestLifecyclePlainAndEncrypted()
        {
            foreach (bool encrypted in new[] { false, true })
            {
                using (var server = new FakeServer())
                using (var client = server.Client(useEncryption: encrypted))
                {
                    var violations = new List<string>();
                    client.SecurityViolation += (s, e) => violations.Add(e.Reason);
                    client.ActivateAsync("GOOD-KEY").Wait();
                    string first = client.SessionToken;
                    Assert.Equal(true, client.ValidateAsync().Result["valid"]);
                    var beat = client.HeartbeatAsync().Result;
                    Assert.Equal(beat["new_token"], client.SessionToken);
                    Assert.That(first != client.SessionToken, "the token rotated");
                    Assert.Equal(true, client.DeactivateAsync().Result["deactivated"]);
                    Assert.Equal(null, client.SessionToken);
                    Assert.Equal("NOT_ACTIVATED", Assert.Refused(() => client.HeartbeatAsync().Wait()).Code);
                    Assert.Equal(0, violations.Count, string.Join(";", violations));
                }
            }
        }

        public static void TestRefusalCarriesCodeAndStatus()
        {
            using (var server = new FakeServer())
            using (var client = server.Client())
            {
                var error = Assert.Refused(() => client.ValidateAsync("BAD-KEY").Wait());
                Assert.Equal("LICENSE_NOT_FOUND", error.Code);
                Assert.Equal(404, error.Status);
            }
        }

        public static void TestTamperedOrUnsignedAnswersAreRefused()
        {
            var tamperings = new Action<Dictionary<string, object>>[] { d => d["watermark"] = new string('f', 32), d => d.Remove("signature") };
            foreach (var tamper in tamperings)
            {
                using (var server = new FakeServer { Tamper = tamper })
                using (var client = server.Client())
                {
                    var sources = new List<string>();
                    client.SecurityViolation += (s, e) => sources.Add(e.Type);
                    var error = Assert.Refused(() => client.ValidateAsync("GOOD-KEY").Wait());
                    Assert.Equal("SECURITY_VIOLATION", error.Code);
                    Assert.Equal(0, error.Status);
                    Assert.Equal("client", string.Join(",", sources));
                }
            }
        }

        public static void TestAPinnedKeyThatDiffersStopsEveryRequest()
        {
            using (var server = new FakeServer())
            using (var client = server.Client())
            {
                client.PinnedKeyId = "0000000000000000";
                Assert.Equal("SECURITY_VIOLATION", Assert.Refused(() => client.InitializeAsync().Wait()).Code);
                Assert.Equal("SECURITY_VIOLATION", Assert.Refused(() => client.ActivateAsync("GOOD-KEY").Wait()).Code);
                Assert.Equal(0, server.Posts);
                using (var pinned = server.Client())
                {
                    pinned.PinnedPublicKey = server.PublicPem;
                    Assert.Equal(true, pinned.ActivateAsync("GOOD-KEY").Result["activated"]);
                }
            }
        }

        public static void TestAWrongSecretIsTheServersViolation()
        {
            using (var server = new FakeServer())
            using (var client = server.Client("sk_live_wrong", useEncryption: true))
            {
                var sources = new List<string>();
                client.SecurityViolation += (s, e) => sources.Add(e.Type);
                var error = Assert.Refused(() => client.ActivateAsync("GOOD-KEY").Wait());
                Assert.Equal("SECURITY_VIOLATION", error.Code);
                Assert.Equal(403, error.Status);
                Assert.Equal("server", string.Join(",", sources));
            }
        }

        public static void TestTheHeartbeatRotatesAndASuspensionEndsTheSessionOnce()
        {
            using (var server = new FakeServer())
            using (var client = server.Client(autoHeartbeat: true, intervalMs: 30))
            {
                int expired = 0;
                client.SessionExpired += (s, e) => Interlocked.Increment(ref expired);
                client.ActivateAsync("GOOD-KEY").Wait();
                var seen = new HashSet<string>();
                for (var deadline = DateTime.UtcNow.AddSeconds(3); seen.Count < 3 && DateTime.UtcNow < deadline; Thread.Sleep(5))
                    seen.Add(client.SessionToken);
                Assert.That(seen.Count >= 3, "the token rotated: " + seen.Count);
                server.Suspended = true;
                for (var deadline = DateTime.UtcNow.AddSeconds(3); expired == 0 && DateTime.UtcNow < deadline; Thread.Sleep(5)) { }
                Thread.Sleep(150);
                Assert.Equal(1, expired);
                Assert.Equal(null, client.SessionToken);
                Assert.Equal(false, client.HeartbeatRunning);
            }
        }

        public static void TestNoAnswerIsANetworkError()
        {
            var probe = new TcpListener(IPAddress.Loopback, 0);
            probe.Start();
            int port = ((IPEndPoint)probe.LocalEndpoint).Port;
            probe.Stop();
            using (var client = new LicenseCMClient("http://127.0.0.1:" + port, FakeServer.Product))
                Assert.Equal("NETWORK_ERROR", Assert.Refused(() => client.InitializeAsync().Wait()).Code);
        }
    }
}
