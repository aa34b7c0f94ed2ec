# Shared by the benchmark scripts (cluster.sh, consoles.sh): sourced, not run.
# Needs $root, $build and $commands set by the script.

# The Release build, configured when missing and brought up to date (nothing
# to do when it is): figures from a stale server would not be the current
# code's.
bench_build() {
    [[ -f "$build/CMakeCache.txt" ]] || cmake -S "$root" -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=Release -DBUILD_CONSOLE=OFF >/dev/null
    cmake --build "$build" -j2 --target medrelay-server medrelay-loadgen >/dev/null
}

# bench_start_medrelay DIR [extra arguments...]: a medrelay server on an
# ephemeral port of 127.0.0.1 with the benchmark settings (no auth, history
# off, per-address limits lifted: every client comes from 127.0.0.1), its
# data and log in DIR. Sets started_pid and started_port; exits the script
# when the server stops or prints no port.
bench_start_medrelay() {
    local dir=$1
    shift
    mkdir -p "$dir"
    local args=("$build/server/medrelay-server" --env production --insecure-no-auth --history off
                --admin-token "${bench_admin_token:-bench-admin-token-0123456789}" --host 127.0.0.1 --port 0
                --rate-limit 0 --max-connections-per-ip 0 --max-pending-per-ip 0 --max-connections 100000
                --data-dir "$dir" "$@")
    echo "${args[*]}" >>"$commands"
    "${args[@]}" >"$dir/log" 2>&1 &
    started_pid=$!
    started_port=""
    for _ in $(seq 200); do
        started_port=$(sed -n 's/.*listening on [^ ]*:\([0-9][0-9]*\).*/\1/p' "$dir/log" | head -1)
        [[ -n "$started_port" ]] && return 0
        kill -0 "$started_pid" 2>/dev/null || break
        sleep 0.05
    done
    echo "$(basename "$0"): the server printed no port; its output:" >&2
    cat "$dir/log" >&2
    exit 1
}
