#!/usr/bin/env bash
# Builds the test image metastore-c:latest FROM scratch out of the binaries
# built on this host and exactly the shared libraries they need (found with
# ldd), for machines with a Docker engine but no registry to pull a base
# image from.  Entrypoint, user, paths, volume, healthcheck and tag are the
# user-facing Dockerfile's.
#
#   scripts/docker-image-local.sh [BUILD_DIR] [TAG]
set -euo pipefail
BUILD=${1:-build}
TAG=${2:-metastore-c:latest}
cd "$(dirname "$0")/.."

for bin in metastored metastore-cli; do
    [ -x "$BUILD/$bin" ] || { echo "docker-image-local: $BUILD/$bin is not built (run make)" >&2; exit 1; }
done

ctx=$(mktemp -d)
trap 'rm -rf "$ctx"' EXIT
root="$ctx/rootfs"
mkdir -p "$root/usr/local/bin" "$root/etc/metastore" "$root/var/lib/metastore" "$root/tmp"
chmod 1777 "$root/tmp"
cp "$BUILD/metastored" "$BUILD/metastore-cli" "$root/usr/local/bin/"
cp configs/config.yaml "$root/etc/metastore/config.yaml"

# Every library the binaries load, at the path the dynamic linker expects.
libs=$(ldd "$BUILD/metastored" "$BUILD/metastore-cli" | awk '/=> \// {print $3} /^\t\/lib/ {print $1}' | sort -u)
for lib in $libs; do
    mkdir -p "$root$(dirname "$lib")"
    cp -L "$lib" "$root$lib"
done
# glibc 2.36 has the "files" and "dns" name services built in; it still
# reads nsswitch.conf, and Docker provides /etc/hosts and /etc/resolv.conf.
printf 'hosts: files dns\n' > "$root/etc/nsswitch.conf"
printf 'root:x:0:0:root:/:/sbin/nologin\nmetastore:x:10001:10001:metastore:/var/lib/metastore:/sbin/nologin\n' > "$root/etc/passwd"
printf 'root:x:0:\nmetastore:x:10001:\n' > "$root/etc/group"
rmdir "$root/var/lib/metastore"
mkdir -p "$ctx/data"

cat > "$ctx/Dockerfile" <<'DOCKERFILE'
FROM scratch
COPY rootfs/ /
COPY --chown=10001:10001 data/ /var/lib/metastore/
USER 10001:10001
VOLUME ["/var/lib/metastore"]
EXPOSE 2379 2380 2381
HEALTHCHECK --interval=5s --timeout=3s --start-period=10s --retries=3 \
  CMD ["/usr/local/bin/metastore-cli", "--endpoints=127.0.0.1:2379", "--dial-timeout=1s", "--command-timeout=2s", "endpoint", "health"]
ENTRYPOINT ["/usr/local/bin/metastored"]
CMD ["--config", "/etc/metastore/config.yaml", "--data-dir", "/var/lib/metastore"]
DOCKERFILE
docker build -q -t "$TAG" "$ctx" >/dev/null
echo "built $TAG from $BUILD (FROM scratch, $(echo "$libs" | wc -w) shared libraries)"
