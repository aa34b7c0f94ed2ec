#!/usr/bin/env bash
# Runs a command inside a network namespace of its own, made for it and
# removed afterwards, even on failure: loopback up, and a veth pair with
# 192.0.2.1/24 and 192.0.2.2/24 (TEST-NET-1), so that WebRTC in Chromium has
# interface addresses to gather that are not this machine's own. Everything
# the command starts (the server, coturn, Chromium) lives in the namespace,
# and whatever of it is still running at the end is killed.
#
#   run_in_netns.sh COMMAND [ARGS...]
#
# Exit code 77 with a line starting "SKIP: " when this machine cannot create
# a network namespace (not root, no CAP_SYS_ADMIN, no ip command); CTest
# counts that as skipped (SKIP_RETURN_CODE).
set -uo pipefail

if ! command -v ip >/dev/null 2>&1; then
    echo "SKIP: no 'ip' command (iproute2) to create a network namespace"
    exit 77
fi
ns="medrelay-browser-$$"
if ! err=$(ip netns add "$ns" 2>&1); then
    echo "SKIP: cannot create a network namespace here (needs root or CAP_SYS_ADMIN): $err"
    exit 77
fi

cleanup() {
    local pids
    pids=$(ip netns pids "$ns" 2>/dev/null)
    if [ -n "$pids" ]; then
        # shellcheck disable=SC2086
        kill -TERM $pids 2>/dev/null
        sleep 1
        pids=$(ip netns pids "$ns" 2>/dev/null)
        # shellcheck disable=SC2086
        [ -n "$pids" ] && kill -KILL $pids 2>/dev/null
    fi
    ip netns delete "$ns" 2>/dev/null
}
trap cleanup EXIT
trap 'exit 130' INT TERM

in_ns() { ip netns exec "$ns" "$@"; }
in_ns ip link set lo up || exit 1
in_ns ip link add mr-veth0 type veth peer name mr-veth1 || exit 1
in_ns ip addr add 192.0.2.1/24 dev mr-veth0 || exit 1
in_ns ip addr add 192.0.2.2/24 dev mr-veth1 || exit 1
in_ns ip link set mr-veth0 up || exit 1
in_ns ip link set mr-veth1 up || exit 1

MEDRELAY_NETNS="$ns" in_ns "$@"
