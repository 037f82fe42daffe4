#!/bin/sh
# Installs the Debian packages MetaStore-C needs to build and test, when any
# is missing.  Run as root it calls apt-get; otherwise it prints the exact
# command to run and exits non-zero.  `make test` and `make run` call it first,
# so on a fresh Debian 12 machine they set everything up by themselves.
set -eu

# Build and run: libuv (event loop), RocksDB (engine), protobuf-c (wire
# format), libyaml (config), OpenSSL (TLS on the client and peer ports; the
# openssl command makes the test certificates), Check (unit tests), pkg-config.  Test tools:
# clang with its libFuzzer runtime (the fuzz targets `make test` runs
# briefly), valgrind (`make valgrind`), curl (the HTTP/JSON API tests run
# the documented curl examples).
PACKAGES="build-essential pkg-config libuv1-dev librocksdb-dev libprotobuf-c-dev
protobuf-c-compiler libyaml-dev libssl-dev openssl check clang libclang-rt-14-dev valgrind curl"
# Tooling: clang-format and cppcheck for `make format` and `make lint`.
# Benchmark anchors for `make bench-reads` (optional, never needed by
# `make test`): etcd 3.4 (its JSON gateway) and Redis.
if [ "${WITH_BENCH:-0}" = 1 ]; then
    PACKAGES="$PACKAGES etcd-server redis-server"
fi
if [ "${WITH_TOOLS:-0}" = 1 ]; then
    PACKAGES="$PACKAGES clang-format cppcheck"
fi

missing=""
for p in $PACKAGES; do
    if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
        missing="$missing $p"
    fi
done

[ -z "$missing" ] && exit 0

cmd="apt-get install -y --no-install-recommends$missing"
if [ "$(id -u)" -ne 0 ]; then
    echo "install-deps: missing Debian packages:$missing" >&2
    echo "install-deps: run as root:  apt-get update && $cmd" >&2
    exit 1
fi
echo "install-deps: installing$missing"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
# shellcheck disable=SC2086
apt-get install -y --no-install-recommends $missing
