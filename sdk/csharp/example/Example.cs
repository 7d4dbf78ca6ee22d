using System;
using System.Collections.Generic;
using System.Security.Cryptography;
using System.Text;
using System.Threading;
using System.Threading.Tasks;
using LicenseCM;

/// <summary>
/// The conformance example: <c>mono Example.exe STEP...</c>, one JSON line per step
/// (sdk/conformance/README.md). Reads BASE_URL, PRODUCT_ID, SECRET_KEY, LICENSE_KEY, USE_ENCRYPTION,
/// PINNED_KEY_ID, PINNED_PUBLIC_KEY, HWID, HEARTBEAT_INTERVAL_MS and WAIT_MS from the environment.
/// </summary>
public static class Example
{
    static readonly object Printing = new object();

    static void Emit(Dictionary<string, object> line)
    {
        lock (Printing)
        {
            Console.Out.WriteLine(Json.Write(line));
            Console.Out.Flush();
        }
    }

    static string Env(string name, string otherwise = null)
    {
        string value = Environment.GetEnvironmentVariable(name);
        return string.IsNullOrEmpty(value) ? otherwise : value;
    }

    /// <summary>Session tokens are credentials: print only enough of their hash to see them change.</summary>
    static string Fingerprint(object token)
    {
        using (var sha = SHA256.Create())
            return Protocol.ToHex(sha.ComputeHash(Encoding.UTF8.GetBytes((string)token))).Substring(0, 12);
    }

    public static int Main(string[] args)
    {
        return Run(args).GetAwaiter().GetResult();
    }

    static async Task<int> Run(string[] args)
    {
        int intervalMs = int.Parse(Env("HEARTBEAT_INTERVAL_MS", "0"));
        int waitMs = int.Parse(Env("WAIT_MS", "10000"));
        string licenseKey = Env("LICENSE_KEY", "");
        var expired = new SemaphoreSlim(0);

        using (var client = new LicenseCMClient(Env("BASE_URL", ""), Env("PRODUCT_ID", ""), Env("SECRET_KEY"),
            useEncryption: Env("USE_ENCRYPTION") == "1", autoHeartbeat: intervalMs > 0,
            heartbeatIntervalMs: intervalMs > 0 ? intervalMs : 300000))
        {
            client.PinnedKeyId = Env("PINNED_KEY_ID");
            client.PinnedPublicKey = Env("PINNED_PUBLIC_KEY");
            client.Hwid = Env("HWID");
            client.SessionExpired += (sender, e) =>
            {
                Emit(new Dictionary<string, object> { { "event", "session_expired" } });
                expired.Release();
            };
            client.SecurityViolation += (sender, e) => Emit(new Dictionary<string, object> {
                { "event", "security_violation" }, { "source", e.Type }, { "action", e.Details["action"] } });

            var steps = new Dictionary<string, Func<Task<Dictionary<string, object>>>>
            {
                { "initialize", async () => {
                    var key = await client.FetchPublicKeyAsync();
                    return new Dictionary<string, object> { { "key_id", key["key_id"] }, { "algorithm", key["algorithm"] } }; } },
                { "activate", async () => {
                    var session = (IDictionary<string, object>)(await client.ActivateAsync(licenseKey))["session"];
                    return new Dictionary<string, object> { { "token", Fingerprint(session["token"]) } }; } },
                { "validate", async () => new Dictionary<string, object> {
                    { "watermark", (await client.ValidateAsync(licenseKey))["watermark"] } } },
                { "heartbeat", async () => new Dictionary<string, object> {
                    { "token", Fingerprint((await client.HeartbeatAsync())["new_token"]) } } },
                { "challenge", async () => new Dictionary<string, object> { { "valid", (await client.ChallengeAsync(licenseKey))["valid"] } } },
                { "deactivate", async () => new Dictionary<string, object> {
                    { "deactivated", (await client.DeactivateAsync(licenseKey))["deactivated"] } } },
                { "hwid", () => Task.FromResult(new Dictionary<string, object> { { "hwid", LicenseCMClient.GenerateHwid() } }) },
                { "wait-expired", async () => {
                    if (!await expired.WaitAsync(waitMs)) throw new LicenseCMException("SessionExpired was not raised", "TIMEOUT");
                    return new Dictionary<string, object>(); } },
            };

            foreach (string name in args)
            {
                Func<Task<Dictionary<string, object>>> step;
                if (!steps.TryGetValue(name, out step))
                {
                    Emit(new Dictionary<string, object> { { "step", name }, { "ok", false }, { "code", "UNKNOWN_STEP" } });
                    continue;
                }
                try
                {
                    var result = await step();
                    var line = new Dictionary<string, object> { { "step", name }, { "ok", true } };
                    foreach (var pair in result) line[pair.Key] = pair.Value;
                    Emit(line);
                }
                catch (LicenseCMException error)
                {
                    Emit(new Dictionary<string, object> { { "step", name }, { "ok", false }, { "code", error.Code },
                        { "status", error.Status == 0 ? null : (object)error.Status }, { "message", error.Message } });
                }
            }
        }
        return 0;
    }
}
