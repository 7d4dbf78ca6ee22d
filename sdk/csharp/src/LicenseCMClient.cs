using System;
using System.Collections.Generic;
using System.Net.Http;
using System.Security.Cryptography;
using System.Text;
using System.Threading;
using System.Threading.Tasks;

namespace LicenseCM
{
    /// <summary>
    /// LicenseCM C# SDK for KeyLedger: activate, validate, keep alive and deactivate a license.
    /// Every successful answer is verified before it is returned: its signature against the product's
    /// public key (pinned, if you pin it), the key id, the nonce this call sent, the server time within
    /// five minutes, and the product, license key and device it is about. Any failure raises
    /// <see cref="SecurityViolation"/> and throws <see cref="LicenseCMException"/> with code SECURITY_VIOLATION.
    /// </summary>
    public class LicenseCMClient : IDisposable
    {
        public const string Version = "0.1.0";
        /// <summary>Heartbeat refusals after which the session cannot go on: SessionExpired is raised once.</summary>
        public static readonly ISet<string> SessionEndingCodes = new HashSet<string> { "SESSION_EXPIRED", "LICENSE_SUSPENDED",
            "LICENSE_EXPIRED", "LICENSE_NOT_FOUND", "HWID_MISMATCH", "PRODUCT_NOT_FOUND", "BLACKLISTED", "SECURITY_VIOLATION" };
        const int HeartbeatRetryMs = 30000;
        const int MaxAnswerBytes = 1000000;
        static readonly RandomNumberGenerator Random = RandomNumberGenerator.Create();

        readonly string apiUrl;
        readonly string productId;
        readonly string secretKey;
        readonly bool useEncryption;
        readonly bool autoHeartbeat;
        readonly int heartbeatIntervalMs;
        readonly HttpClient http;
        readonly object state = new object(); // guards the fields below
        readonly SemaphoreSlim beat = new SemaphoreSlim(1, 1); // one heartbeat at a time: each one rotates the token
        SigningPublicKey publicKey;
        string publicKeyId;
        string licenseKey;
        string sessionHwid;
        string sessionToken;
        DateTimeOffset? sessionExpires;
        bool sessionEndReported;
        Timer heartbeatTimer;

        public event EventHandler SessionExpired;
        public event EventHandler<SecurityViolationEventArgs> SecurityViolation;
        public event EventHandler<HeartbeatFailedEventArgs> HeartbeatFailed;

        /// <summary>Pins the server's key by its PEM (strongly recommended); set before the first call.</summary>
        public string PinnedPublicKey { get; set; }
        /// <summary>Pins the server's key by its id (16 hex); set before the first call.</summary>
        public string PinnedKeyId { get; set; }
        /// <summary>This device's id; <see cref="GenerateHwid"/> when not set.</summary>
        public string Hwid { get; set; }
        public long MaxClockSkewMs { get; set; } = Protocol.MaxSkewMs;

        /// <param name="baseUrl">the server, with or without the trailing /api</param>
        public LicenseCMClient(string baseUrl, string productId, string secretKey = null, bool useEncryption = false,
                               bool autoHeartbeat = true, int heartbeatIntervalMs = 300000)
        {
            string url = (baseUrl ?? "").Trim().TrimEnd('/');
            if (!url.StartsWith("http://", StringComparison.OrdinalIgnoreCase) && !url.StartsWith("https://", StringComparison.OrdinalIgnoreCase))
                throw new ArgumentException("baseUrl must be an http(s) URL");
            if (useEncryption && string.IsNullOrEmpty(secretKey)) throw new ArgumentException("encryption needs the secret key");
            if (heartbeatIntervalMs <= 0) throw new ArgumentException("the heartbeat interval must be positive (ms)");
            apiUrl = url.EndsWith("/api", StringComparison.Ordinal) ? url : url + "/api";
            this.productId = productId;
            this.secretKey = secretKey;
            this.useEncryption = useEncryption;
            this.autoHeartbeat = autoHeartbeat;
            this.heartbeatIntervalMs = heartbeatIntervalMs;
            http = new HttpClient { Timeout = TimeSpan.FromSeconds(10) };
        }

        /// <summary>This machine's HWID (see README: the OS machine id, hashed).</summary>
        public static string GenerateHwid() { return LicenseCM.Hwid.Get(); }

        public string SessionToken { get { lock (state) return sessionToken; } }
        public bool HeartbeatRunning { get { lock (state) return heartbeatTimer != null; } }

        // --- the API ------------------------------------------------------------------------------

        /// <summary>Fetches the product's public key and checks it against the pin: key_id, algorithm, public_key.</summary>
        public async Task<IDictionary<string, object>> FetchPublicKeyAsync()
        {
            var answer = await ExchangeAsync("public-key", "/client/public-key?product_id=" + Uri.EscapeDataString(productId), null)
                .ConfigureAwait(false);
            var data = answer.Get("data") as IDictionary<string, object>;
            var pem = data.Get("public_key") as string;
            if (pem == null) throw new LicenseCMException("The public key answer has no key", "INVALID_RESPONSE");
            SigningPublicKey key;
            try { key = Protocol.LoadPublicKey(pem); }
            catch (CryptographicException error) { throw Violation("public-key", "unusable public key: " + error.Message); }
            string fetchedId = Protocol.KeyId(key);
            if (!Equals(data.Get("key_id"), fetchedId)) throw Violation("public-key", "the served key_id does not match the served key");
            SigningPublicKey pinned = PinnedPublicKey == null ? null : Protocol.LoadPublicKey(PinnedPublicKey);
            string pinnedId = pinned != null ? Protocol.KeyId(pinned) : PinnedKeyId == null ? null : PinnedKeyId.ToLowerInvariant();
            if (PinnedKeyId != null && pinned != null && PinnedKeyId.ToLowerInvariant() != pinnedId)
                throw new ArgumentException("PinnedKeyId does not belong to PinnedPublicKey");
            if (pinnedId != null && pinnedId != fetchedId) throw Violation("public-key", "the server's public key is not the pinned key");
            lock (state)
            {
                publicKey = pinned ?? key;
                publicKeyId = fetchedId;
            }
            return new Dictionary<string, object> { { "key_id", fetchedId }, { "algorithm", data.Get("algorithm") }, { "public_key", pem } };
        }

        /// <summary><see cref="FetchPublicKeyAsync"/>; the first request calls it when you have not.</summary>
        public async Task InitializeAsync() { await FetchPublicKeyAsync().ConfigureAwait(false); }

        /// <summary>Binds this device (hwid, or the client's when null) to the license, opens a session, starts the heartbeat.</summary>
        public async Task<IDictionary<string, object>> ActivateAsync(string licenseKey, string hwid = null)
        {
            string device = Device(hwid);
            var data = await SignedCallAsync("activate", Fields(licenseKey, device, true)).ConfigureAwait(false);
            var session = data.Get("session") as IDictionary<string, object>;
            if (!true.Equals(data.Get("activated")) || !(session.Get("token") is string))
                throw new LicenseCMException("The activation answer has no session", "INVALID_RESPONSE", 0, data);
            StopHeartbeat();
            lock (state)
            {
                this.licenseKey = licenseKey;
                sessionHwid = device;
                sessionToken = (string)session.Get("token");
                sessionExpires = ParseTime(session.Get("expires_at"));
                sessionEndReported = false;
            }
            if (autoHeartbeat) StartHeartbeat();
            return data;
        }

        /// <summary>Checks the license on this device (null: the activated key and device).</summary>
        public async Task<IDictionary<string, object>> ValidateAsync(string licenseKey = null, string hwid = null)
        {
            var data = await SignedCallAsync("validate", Fields(KeyOrActivated(licenseKey), Device(hwid), true)).ConfigureAwait(false);
            if (!true.Equals(data.Get("valid"))) throw new LicenseCMException("The license is not valid", "INVALID_RESPONSE", 0, data);
            return data;
        }

        /// <summary>
        /// Keeps the session alive and stores the rotated token. The arguments exist for the published SDK's
        /// signature: pass nothing. A session-ending refusal clears the session and raises SessionExpired once.
        /// </summary>
        public async Task<IDictionary<string, object>> HeartbeatAsync(string licenseKey = null, string hwid = null)
        {
            bool ended = false;
            await beat.WaitAsync().ConfigureAwait(false);
            try
            {
                string token, key, device;
                lock (state)
                {
                    token = sessionToken;
                    key = this.licenseKey;
                    device = sessionHwid;
                }
                if (token == null || key == null || (licenseKey != null && licenseKey != key))
                    throw new LicenseCMException("No active session: call ActivateAsync first", "NOT_ACTIVATED");
                var body = Fields(key, device, false);
                body["session_token"] = token;
                IDictionary<string, object> data;
                try { data = await SignedCallAsync("heartbeat", body).ConfigureAwait(false); }
                catch (LicenseCMException error)
                {
                    if (SessionEndingCodes.Contains(error.Code)) ended = EndSession(token);
                    throw;
                }
                var newToken = data.Get("new_token") as string;
                if (!true.Equals(data.Get("valid")) || string.IsNullOrEmpty(newToken))
                    throw new LicenseCMException("The heartbeat answer has no new token", "INVALID_RESPONSE", 0, data);
                lock (state)
                {
                    if (sessionToken == token) // not ended or replaced meanwhile
                    {
                        sessionToken = newToken;
                        sessionExpires = ParseTime(data.Get("expires_at")) ?? sessionExpires;
                    }
                }
                return data;
            }
            finally
            {
                beat.Release();
                if (ended) Raise(() => SessionExpired?.Invoke(this, EventArgs.Empty)); // outside the lock
            }
        }

        /// <summary>Frees this device's seat and ends the session (null: the activated key and device).</summary>
        public async Task<IDictionary<string, object>> DeactivateAsync(string licenseKey = null, string hwid = null)
        {
            string key = KeyOrActivated(licenseKey);
            bool ours;
            lock (state) ours = key == this.licenseKey;
            if (ours) StopHeartbeat(); // a heartbeat must not race the deactivation
            IDictionary<string, object> data;
            try
            {
                data = await SignedCallAsync("deactivate", Fields(key, Device(hwid), false)).ConfigureAwait(false);
                if (!true.Equals(data.Get("deactivated")))
                    throw new LicenseCMException("The deactivation answer is not a deactivation", "INVALID_RESPONSE", 0, data);
            }
            catch (LicenseCMException)
            {
                if (ours && SessionToken != null && autoHeartbeat) StartHeartbeat(); // the session lives on
                throw;
            }
            if (ours)
            {
                lock (state)
                {
                    sessionToken = null;
                    sessionExpires = null;
                    sessionEndReported = true;
                }
            }
            return data;
        }

        /// <summary>Validates by challenge-response, proving this client holds the product secret.</summary>
        public async Task<IDictionary<string, object>> ChallengeAsync(string licenseKey = null)
        {
            if (string.IsNullOrEmpty(secretKey)) throw new InvalidOperationException("ChallengeAsync needs the secret key");
            string key = KeyOrActivated(licenseKey), device = Device(null);
            await EnsureInitializedAsync().ConfigureAwait(false);
            var ask = Fields(key, device, false);
            ask["product_id"] = productId;
            var issued = (await ExchangeAsync("challenge", "/client/challenge", ask).ConfigureAwait(false)).Get("data") as IDictionary<string, object>;
            var challenge = issued.Get("challenge") as string;
            if (challenge == null) throw new LicenseCMException("The challenge answer has no challenge", "INVALID_RESPONSE");
            var body = Fields(key, device, false);
            body["challenge"] = challenge;
            body["response"] = Protocol.ChallengeResponse(secretKey, challenge, key, device);
            var data = await SignedCallAsync("challenge", body).ConfigureAwait(false);
            if (!true.Equals(data.Get("valid"))) throw new LicenseCMException("The license is not valid", "INVALID_RESPONSE", 0, data);
            return data;
        }

        /// <summary>Starts (or restarts) the automatic heartbeat.</summary>
        public void StartHeartbeat()
        {
            lock (state)
            {
                heartbeatTimer?.Dispose();
                heartbeatTimer = new Timer(_ => Tick(), null, heartbeatIntervalMs, Timeout.Infinite);
            }
        }

        public void StopHeartbeat()
        {
            lock (state)
            {
                heartbeatTimer?.Dispose();
                heartbeatTimer = null;
            }
        }

        public bool IsSessionValid()
        {
            lock (state) return sessionToken != null && (sessionExpires == null || sessionExpires > DateTimeOffset.UtcNow);
        }

        public IDictionary<string, object> GetSessionInfo()
        {
            bool valid = IsSessionValid();
            lock (state)
            {
                return new Dictionary<string, object> { { "token", sessionToken }, { "expires", sessionExpires }, { "is_valid", valid },
                    { "license_key", licenseKey }, { "hwid", sessionHwid } };
            }
        }

        /// <summary>Stops the heartbeat. The seat stays taken: call DeactivateAsync to free it.</summary>
        public void Dispose()
        {
            StopHeartbeat();
            http.Dispose();
        }

        // --- requests and checks ------------------------------------------------------------------

        async void Tick()
        {
            int delay = heartbeatIntervalMs;
            try { await HeartbeatAsync().ConfigureAwait(false); }
            catch (LicenseCMException error)
            {
                if (SessionEndingCodes.Contains(error.Code) || error.Code == "NOT_ACTIVATED")
                {
                    StopHeartbeat();
                    return;
                }
                Raise(() => HeartbeatFailed?.Invoke(this, new HeartbeatFailedEventArgs { Error = error.Message, Exception = error }));
                delay = Math.Min(heartbeatIntervalMs, HeartbeatRetryMs);
            }
            catch (Exception error)
            {
                Raise(() => HeartbeatFailed?.Invoke(this, new HeartbeatFailedEventArgs { Error = error.Message }));
                delay = Math.Min(heartbeatIntervalMs, HeartbeatRetryMs);
            }
            lock (state) heartbeatTimer?.Change(delay, Timeout.Infinite);
        }

        bool EndSession(string token)
        {
            bool due;
            lock (state)
            {
                if (sessionToken != null && sessionToken != token) return false; // replaced by a newer activation
                sessionToken = null;
                sessionExpires = null;
                due = !sessionEndReported;
                sessionEndReported = true;
            }
            StopHeartbeat();
            return due;
        }

        async Task EnsureInitializedAsync()
        {
            bool ready;
            lock (state) ready = publicKey != null;
            if (!ready) await InitializeAsync().ConfigureAwait(false);
        }

        async Task<IDictionary<string, object>> SignedCallAsync(string action, Dictionary<string, object> body)
        {
            await EnsureInitializedAsync().ConfigureAwait(false);
            var raw = new byte[16];
            Random.GetBytes(raw);
            string nonce = Protocol.ToHex(raw);
            body["product_id"] = productId;
            body["nonce"] = nonce;
            var answer = await ExchangeAsync(action, "/client/" + action, body).ConfigureAwait(false);
            SigningPublicKey key;
            string keyId;
            lock (state)
            {
                key = publicKey;
                keyId = publicKeyId;
            }
            string reason = Protocol.CheckAnswer(key, keyId, answer.Get("data"), nonce, DateTimeOffset.UtcNow.ToUnixTimeMilliseconds(),
                MaxClockSkewMs, body);
            if (reason != null) throw Violation(action, reason);
            return (IDictionary<string, object>)answer.Get("data");
        }

        async Task<IDictionary<string, object>> ExchangeAsync(string action, string path, Dictionary<string, object> body)
        {
            bool sealedRequest = useEncryption && body != null;
            var request = new HttpRequestMessage(body == null ? HttpMethod.Get : HttpMethod.Post, apiUrl + path);
            request.Headers.Add("Accept", "application/json");
            request.Headers.Add("User-Agent", "licensecm-csharp/" + Version);
            if (body != null)
            {
                byte[] plain = Encoding.UTF8.GetBytes(Json.Write(body));
                string wire = sealedRequest
                    ? Json.Write(Protocol.SealBytes(secretKey, productId, plain, DateTimeOffset.UtcNow.ToUnixTimeMilliseconds()))
                    : Encoding.UTF8.GetString(plain);
                request.Content = new StringContent(wire, new UTF8Encoding(false), "application/json");
            }
            int status;
            byte[] raw;
            try
            {
                using (var response = await http.SendAsync(request).ConfigureAwait(false))
                {
                    status = (int)response.StatusCode;
                    raw = await response.Content.ReadAsByteArrayAsync().ConfigureAwait(false);
                }
            }
            catch (Exception error) when (error is HttpRequestException || error is TaskCanceledException || error is System.IO.IOException)
            {
                string cause = error.InnerException != null ? error.Message + " (" + error.InnerException.Message + ")" : error.Message;
                throw new LicenseCMException("No answer from the license server: " + cause, "NETWORK_ERROR", 0,
                    new Dictionary<string, object> { { "action", action } });
            }
            object parsed;
            try
            {
                if (raw.Length > MaxAnswerBytes) throw new FormatException("too large");
                parsed = Json.Parse(Encoding.UTF8.GetString(raw));
            }
            catch (FormatException)
            {
                throw new LicenseCMException("The license server's answer is not JSON (HTTP " + status + ")", "INVALID_RESPONSE", status);
            }
            if (sealedRequest) parsed = Open(action, parsed);
            var answer = parsed as IDictionary<string, object>;
            if (answer == null) throw new LicenseCMException("Unexpected answer (HTTP " + status + ")", "INVALID_RESPONSE", status);
            if (!true.Equals(answer.Get("success"))) throw Refused(action, status, answer);
            return answer;
        }

        object Open(string action, object answer)
        {
            var map = answer as IDictionary<string, object>;
            if (map != null && true.Equals(map.Get("encrypted")))
            {
                if (!string.Equals(map.Get("product_id") as string, productId, StringComparison.OrdinalIgnoreCase))
                    throw Violation(action, "the encrypted answer is for another product");
                try { return Protocol.OpenEnvelope(secretKey, map, DateTimeOffset.UtcNow.ToUnixTimeMilliseconds(), MaxClockSkewMs); }
                catch (EnvelopeException error) { throw Violation(action, "the encrypted answer failed its checks: " + error.Message); }
            }
            // The server answers a refused envelope in plain JSON (it cannot know whether the sender holds
            // the secret). A refusal grants nothing, so it is safe to read; a plain success is a downgrade.
            if (map != null && false.Equals(map.Get("success"))) return map;
            throw Violation(action, "an encrypted request got an unencrypted answer");
        }

        LicenseCMException Refused(string action, int status, IDictionary<string, object> answer)
        {
            string code = answer.Get("error_code") as string ?? "HTTP_ERROR";
            string message = answer.Get("message") as string ?? "HTTP " + status;
            if (code == "SECURITY_VIOLATION" || true.Equals(answer.Get("security_blocked")))
            {
                var details = new Dictionary<string, object> { { "source", "server" }, { "action", action }, { "reason", message },
                    { "code", code }, { "status", status } };
                if (answer.ContainsKey("security_details")) details["security_details"] = answer["security_details"];
                Report(details);
            }
            var all = new Dictionary<string, object>(answer) { ["action"] = action };
            return new LicenseCMException(message, code, status, all);
        }

        LicenseCMException Violation(string action, string reason)
        {
            var details = new Dictionary<string, object> { { "source", "client" }, { "action", action }, { "reason", reason } };
            Report(details);
            return new LicenseCMException("Security violation: " + reason, "SECURITY_VIOLATION", 0, details);
        }

        void Report(Dictionary<string, object> details)
        {
            Raise(() => SecurityViolation?.Invoke(this, new SecurityViolationEventArgs
                { Type = (string)details["source"], Reason = (string)details["reason"], Details = details }));
        }

        static void Raise(Action handler)
        {
            try { handler(); }
            catch (Exception) { } // a handler's own failure must not hide what happened
        }

        Dictionary<string, object> Fields(string licenseKey, string hwid, bool withClientData)
        {
            var body = new Dictionary<string, object> { { "license_key", licenseKey }, { "hwid", hwid } };
            if (withClientData)
            {
                string os = Environment.OSVersion.VersionString;
                body["client_data"] = new Dictionary<string, object> {
                    { "platform", Environment.OSVersion.Platform.ToString() }, { "os_version", os.Length > 100 ? os.Substring(0, 100) : os },
                    { "vm_indicators", new List<object>() }, { "debug_indicators", new List<object>() } };
            }
            return body;
        }

        string KeyOrActivated(string licenseKey)
        {
            if (!string.IsNullOrEmpty(licenseKey)) return licenseKey;
            lock (state) if (this.licenseKey != null) return this.licenseKey;
            throw new LicenseCMException("No license key: pass one or call ActivateAsync first", "NOT_ACTIVATED");
        }

        string Device(string hwid)
        {
            if (!string.IsNullOrEmpty(hwid)) return hwid;
            lock (state) if (sessionHwid != null) return sessionHwid;
            return string.IsNullOrEmpty(Hwid) ? LicenseCM.Hwid.Get() : Hwid;
        }

        static DateTimeOffset? ParseTime(object value)
        {
            long? ms = Protocol.ParseTimeMs(value);
            return ms == null ? (DateTimeOffset?)null : DateTimeOffset.FromUnixTimeMilliseconds(ms.Value);
        }
    }
}
