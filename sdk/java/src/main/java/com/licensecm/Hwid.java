package com.licensecm;

import java.io.IOException;
import java.net.InetAddress;
import java.net.NetworkInterface;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Collections;
import java.util.HexFormat;
import java.util.Locale;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * A hardware id that is the same in every process and every KeyLedger SDK on one machine: SHA-256 of
 * the OS machine id (Linux /etc/machine-id, Windows MachineGuid, macOS IOPlatformUUID), else of the
 * host name, the first real MAC address and the architecture.
 */
public final class Hwid {
    private static final String PREFIX = "licensecm-hwid:v1:";
    private static volatile String cached;

    private Hwid() {}

    /** 64 hex characters, computed once per process. */
    public static String get() {
        if (cached == null) {
            String id = machineId();
            cached = id != null ? fromMachineId(id) : hash("host", hostName(), firstMac(), System.getProperty("os.arch", ""));
        }
        return cached;
    }

    /** The HWID every KeyLedger SDK derives from one OS machine id. */
    public static String fromMachineId(String machineId) {
        return hash("machine-id", machineId.trim().toLowerCase(Locale.ROOT));
    }

    private static String hash(String... parts) {
        byte[] digest = Protocol.sha256((PREFIX + String.join("|", parts)).getBytes(StandardCharsets.UTF_8));
        return HexFormat.of().formatHex(digest);
    }

    private static String machineId() {
        String os = System.getProperty("os.name", "").toLowerCase(Locale.ROOT);
        String value = null;
        try {
            if (os.contains("win")) {
                value = run("(?m)MachineGuid\\s+REG_SZ\\s+(\\S+)", "reg", "query",
                    "HKLM\\SOFTWARE\\Microsoft\\Cryptography", "/v", "MachineGuid", "/reg:64");
            } else if (os.contains("mac")) {
                value = run("\"IOPlatformUUID\"\\s*=\\s*\"([^\"]+)\"", "ioreg", "-rd1", "-c", "IOPlatformExpertDevice");
            } else {
                for (String path : new String[] {"/etc/machine-id", "/var/lib/dbus/machine-id"}) {
                    try {
                        value = Files.readString(Path.of(path)).trim();
                    } catch (IOException e) {
                        continue;
                    }
                    if (!value.isEmpty()) break;
                }
            }
        } catch (IOException | InterruptedException | RuntimeException e) {
            value = null; // any platform oddity means: use the fallback
        }
        if (value == null || value.trim().replaceAll("[0-]", "").isEmpty()) return null; // all zero: a placeholder
        return value;
    }

    private static String run(String pattern, String... command) throws IOException, InterruptedException {
        Process process = new ProcessBuilder(command).redirectErrorStream(true).start();
        String output = new String(process.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        process.waitFor(5, TimeUnit.SECONDS);
        Matcher match = Pattern.compile(pattern).matcher(output);
        return match.find() ? match.group(1) : null;
    }

    private static String hostName() {
        try {
            return InetAddress.getLocalHost().getHostName();
        } catch (IOException e) {
            return "";
        }
    }

    private static String firstMac() {
        try {
            for (NetworkInterface candidate : Collections.list(NetworkInterface.getNetworkInterfaces())) {
                byte[] mac = candidate.getHardwareAddress();
                if (!candidate.isLoopback() && mac != null && mac.length > 0 && !HexFormat.of().formatHex(mac).matches("0*")) {
                    return HexFormat.of().formatHex(mac);
                }
            }
        } catch (IOException e) {
            // no interfaces to read
        }
        return "";
    }
}
