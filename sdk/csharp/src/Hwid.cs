using System;
using System.Diagnostics;
using System.IO;
using System.Linq;
using System.Net.NetworkInformation;
using System.Text;
using System.Text.RegularExpressions;

namespace LicenseCM
{
    /// <summary>
    /// A hardware id that is the same in every process and every KeyLedger SDK on one machine: SHA-256 of
    /// the OS machine id (Linux /etc/machine-id, Windows MachineGuid, macOS IOPlatformUUID), else of the
    /// host name, the first real MAC address and the architecture.
    /// </summary>
    public static class Hwid
    {
        const string Prefix = "licensecm-hwid:v1:";
        static readonly Lazy<string> Cached = new Lazy<string>(Compute);

        /// <summary>64 hex characters, computed once per process.</summary>
        public static string Get() { return Cached.Value; }

        /// <summary>The HWID every KeyLedger SDK derives from one OS machine id.</summary>
        public static string FromMachineId(string machineId)
        {
            return Hash("machine-id", machineId.Trim().ToLowerInvariant());
        }

        static string Hash(params string[] parts)
        {
            return Protocol.ToHex(Protocol.Sha256(Encoding.UTF8.GetBytes(Prefix + string.Join("|", parts))));
        }

        static string Compute()
        {
            string id = null;
            try { id = MachineId(); }
            catch (Exception) { id = null; } // any platform oddity means: use the fallback
            if (id != null && id.Trim().Replace("0", "").Replace("-", "").Length > 0) return FromMachineId(id);
            return Hash("host", Environment.MachineName, FirstMac(), Environment.Is64BitOperatingSystem ? "x64" : "x86");
        }

        static string MachineId()
        {
            if (Environment.OSVersion.Platform == PlatformID.Win32NT)
            {
                using (var root = Microsoft.Win32.RegistryKey.OpenBaseKey(Microsoft.Win32.RegistryHive.LocalMachine,
                    Microsoft.Win32.RegistryView.Registry64))
                using (var key = root.OpenSubKey(@"SOFTWARE\Microsoft\Cryptography"))
                    return key == null ? null : key.GetValue("MachineGuid") as string;
            }
            foreach (var path in new[] { "/etc/machine-id", "/var/lib/dbus/machine-id" })
            {
                if (File.Exists(path))
                {
                    string text = File.ReadAllText(path).Trim();
                    if (text.Length > 0) return text;
                }
            }
            if (File.Exists("/usr/sbin/ioreg")) // macOS
            {
                var start = new ProcessStartInfo("/usr/sbin/ioreg", "-rd1 -c IOPlatformExpertDevice")
                    { RedirectStandardOutput = true, UseShellExecute = false };
                using (var process = Process.Start(start))
                {
                    string output = process.StandardOutput.ReadToEnd();
                    process.WaitForExit(5000);
                    var match = Regex.Match(output, "\"IOPlatformUUID\"\\s*=\\s*\"([^\"]+)\"");
                    return match.Success ? match.Groups[1].Value : null;
                }
            }
            return null;
        }

        static string FirstMac()
        {
            try
            {
                foreach (var adapter in NetworkInterface.GetAllNetworkInterfaces())
                {
                    if (adapter.NetworkInterfaceType == NetworkInterfaceType.Loopback) continue;
                    string mac = adapter.GetPhysicalAddress().ToString().ToLowerInvariant();
                    if (mac.Length > 0 && mac.Trim('0').Length > 0) return mac;
                }
            }
            catch (NetworkInformationException) { }
            return "";
        }
    }
}
