#!/usr/bin/env bash
# Installs everything medrelay needs to build, run and test on Debian 12.
# Run as root or with sudo available. Safe to run again.
set -euo pipefail

SUDO=""
if [ "$(id -u)" -ne 0 ]; then
    SUDO="sudo"
fi
export DEBIAN_FRONTEND=noninteractive

packages=(
    # Toolchain
    build-essential cmake ninja-build pkg-config git lld
    # Qt 6 (LGPL modules only) and the libraries the server links
    qt6-base-dev qt6-websockets-dev libqt6sql6-sqlite libgl-dev
    libhiredis-dev libjwt-dev libhttp-parser-dev libssl-dev openssl
    # systemd integration: sd_notify (Type=notify, watchdog) and the journal
    libsystemd-dev
    # Tests: sanitizers and fuzzers (clang), offscreen console, services
    clang libclang-rt-14-dev llvm redis-server xvfb xauth fonts-dejavu-core
    # Benchmarks: the suite's driver, plots, process statistics, listen backlogs (ss)
    python3 gnuplot-nox procps iproute2
    # Packages and their test: cpack's DEB generator (dpkg-shlibdeps, file),
    # installing and running the .deb (adduser, curl), the unit
    # (systemd-analyze, the system's units), the desktop entry, the nginx
    # example in front of medrelay, the Windows installer script (makensis)
    dpkg-dev file adduser curl systemd desktop-file-utils nginx-light nsis
    # Browser tests: the demo page in Chromium (driven by playwright-core from
    # npm, no browser download), WebRTC relayed through coturn
    chromium coturn
)

$SUDO apt-get update
$SUDO apt-get install -y --no-install-recommends "${packages[@]}"

# Node.js runs the drop-in compatibility test and the reference server of the
# benchmarks. Keep an existing Node (>= 18); otherwise take Debian's.
if ! command -v node >/dev/null 2>&1 || ! command -v npm >/dev/null 2>&1; then
    $SUDO apt-get install -y --no-install-recommends nodejs npm
fi
node_major=$(node -p 'process.versions.node.split(".")[0]')
if [ "$node_major" -lt 18 ]; then
    echo "install-deps: Node.js >= 18 is required, found $(node --version)" >&2
    exit 1
fi
echo "install-deps: done"
