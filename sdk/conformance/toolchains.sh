#!/usr/bin/env bash
# Make sure every SDK's toolchain is here; install what is missing from Debian's packages.
# A toolchain that cannot be installed fails the run: `make sdk-test` never skips an SDK.
set -euo pipefail

missing=()
need_command() { command -v "$1" >/dev/null 2>&1 || missing+=("$2"); }
need_file() { [ -e "$1" ] || missing+=("$2"); }

need_command node nodejs
need_command go golang-go
need_command javac openjdk-17-jdk-headless
need_file /usr/share/java/junit4.jar junit4
need_file /usr/share/java/hamcrest-core.jar libhamcrest-java
need_command php php-cli
need_command phpunit phpunit
need_command mcs mono-devel
need_command mono mono-runtime
for assembly in System.Net.Http System.Numerics; do
    need_file "/usr/lib/mono/4.5/$assembly.dll" mono-devel
done

if [ "${#missing[@]}" -gt 0 ]; then
    mapfile -t missing < <(printf '%s\n' "${missing[@]}" | sort -u)
    echo "sdk toolchains: installing ${missing[*]} from Debian"
    if [ "$(id -u)" -ne 0 ]; then
        echo "sdk toolchains: missing ${missing[*]}, and installing needs root (apt-get)" >&2
        exit 1
    fi
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

# The versions and extensions the SDKs rely on.
node -e 'const [major] = process.versions.node.split(".").map(Number); if (major < 18) { console.error(`node ${process.version} < 18`); process.exit(1); }'
php -r 'foreach (["openssl_verify", "sodium_crypto_sign_verify_detached", "json_decode", "array_is_list"] as $f) { if (!function_exists($f)) { fwrite(STDERR, "php lacks $f\n"); exit(1); } }'
javac -version 2>&1 | awk '{ split($2, v, "."); if (v[1] < 17) { print "javac " $2 " < 17" > "/dev/stderr"; exit 1 } }'
echo "sdk toolchains: node $(node --version), $(go version | cut -d' ' -f3), javac $(javac -version 2>&1 | cut -d' ' -f2), php $(php -r 'echo PHP_VERSION;'), mono $(mono --version | head -1 | cut -d' ' -f5)"
