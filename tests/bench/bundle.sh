#!/usr/bin/env bash
# Packs a Release build's server and load generator, with every shared
# library they load (the dynamic loader and libc included) and the Qt
# plugins the server may load, into one tarball that runs on another x86-64
# Linux machine without Qt or anything else installed: a benchmark machine
# that can build nothing and fetch nothing.
#
#   tests/bench/bundle.sh BUILD_DIR OUT.tar.xz
#
# Unpacked, the tarball is laid out like a build directory
# (server/medrelay-server, tests/bench/medrelay-loadgen, CMakeCache.txt), so
# the benchmark scripts take it as MEDRELAY_BENCH_BUILD. Each of those two is
# a small script that starts the real program through the carried loader
# (exec, so its pid is the program's); bin/ holds the programs, lib/ the
# libraries, plugins/ the Qt plugins. COMMIT holds the commit it was built
# from, which the scripts report when the machine has no git checkout.
set -euo pipefail
if [[ $# -ne 2 ]]; then
    echo "usage: $0 BUILD_DIR OUT.tar.xz" >&2
    exit 64
fi
build="$(cd "$1" && pwd)"
out="$2"
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
grep -q '^CMAKE_BUILD_TYPE:STRING=Release' "$build/CMakeCache.txt" \
    || { echo "bundle.sh: $build is not a Release build" >&2; exit 64; }
programs=("$build/server/medrelay-server" "$build/tests/bench/medrelay-loadgen")
for p in "${programs[@]}"; do
    [[ -x "$p" ]] || { echo "bundle.sh: $p is missing (build it first)" >&2; exit 64; }
done
qt_plugins="$(qtpaths6 --query QT_INSTALL_PLUGINS 2>/dev/null || echo /usr/lib/x86_64-linux-gnu/qt6/plugins)"

stage=$(mktemp -d)
trap 'rm -rf "$stage"' EXIT
mkdir -p "$stage/bin" "$stage/lib" "$stage/plugins/sqldrivers" "$stage/server" "$stage/tests/bench"
cp "${programs[@]}" "$stage/bin/"
cp "$qt_plugins/sqldrivers/libqsqlite.so" "$stage/plugins/sqldrivers/"

# Every library the programs and the plugin load, resolved the way the
# loader resolves them here (ldd lists the whole closure), and the loader.
for f in "$stage/bin/"* "$stage/plugins/sqldrivers/libqsqlite.so"; do
    ldd "$f" | awk '/=> \// { print $3 } /^[[:space:]]*\/.*ld-linux/ { print $1 }'
done | sort -u | while read -r lib; do
    cp -L "$lib" "$stage/lib/"
done
[[ -e "$stage/lib/ld-linux-x86-64.so.2" ]] || { echo "bundle.sh: the loader was not found" >&2; exit 1; }

launcher() { # launcher PATH UP PROGRAM: PATH starts bin/PROGRAM through the carried loader
    cat >"$1" <<EOF
#!/bin/sh
here=\$(cd "\$(dirname "\$0")/$2" && pwd)
QT_PLUGIN_PATH="\$here/plugins" exec "\$here/lib/ld-linux-x86-64.so.2" --library-path "\$here/lib" "\$here/bin/$3" "\$@"
EOF
    chmod +x "$1"
}
launcher "$stage/server/medrelay-server" .. medrelay-server
launcher "$stage/tests/bench/medrelay-loadgen" ../.. medrelay-loadgen
echo "CMAKE_BUILD_TYPE:STRING=Release" >"$stage/CMakeCache.txt"
git -C "$root" rev-parse --short HEAD >"$stage/COMMIT" 2>/dev/null || echo unknown >"$stage/COMMIT"
if ! git -C "$root" diff --quiet HEAD 2>/dev/null; then
    echo "bundle.sh: warning: the checkout has uncommitted changes; COMMIT names its HEAD" >&2
fi

# It must run here through its own loader before it travels.
"$stage/server/medrelay-server" --version >/dev/null
tar -C "$stage" -cJf "$out" .
echo "bundle.sh: $(du -h "$out" | cut -f1) in $out ($(cat "$stage/COMMIT"))" >&2
