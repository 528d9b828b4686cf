#!/bin/sh
# Build the local test image dockyard-test/busybox:1 without any registry.
#
# The image is a root filesystem holding Debian's statically linked busybox
# (/bin/busybox from the busybox-static package), one symlink per applet,
# /etc/passwd and /etc/group with root and nobody, /tmp and /var/www with an
# index.html, imported with `docker import`. Works offline. The working
# directory is /var/www so that a bare `httpd -f -p PORT` serves index.html.
#
# Usage: scripts/build-test-image.sh [--force]
#   --force   rebuild even if the image already exists
set -eu

IMAGE="dockyard-test/busybox:1"
BUSYBOX="${BUSYBOX:-/bin/busybox}"
FORCE=0

for arg in "$@"; do
    case "$arg" in
        --force) FORCE=1 ;;
        -h|--help) sed -n "2,11p" "$0"; exit 0 ;;
        *) echo "build-test-image: unknown argument: $arg" >&2; exit 2 ;;
    esac
done

if [ "$FORCE" -eq 0 ] && docker image inspect "$IMAGE" >/dev/null 2>&1; then
    echo "build-test-image: $IMAGE already exists (use --force to rebuild)"
    exit 0
fi

if [ ! -x "$BUSYBOX" ]; then
    echo "build-test-image: $BUSYBOX not found; run: apt-get install busybox-static" >&2
    exit 1
fi
# A dynamically linked busybox (Debian's plain `busybox` package) would not
# run in an image without a libc.
if ! "$BUSYBOX" --list >/dev/null 2>&1; then
    echo "build-test-image: $BUSYBOX does not run; run: apt-get install busybox-static" >&2
    exit 1
fi
if command -v file >/dev/null 2>&1 && ! file -L "$BUSYBOX" | grep -q 'statically linked'; then
    echo "build-test-image: $BUSYBOX is not statically linked; run: apt-get install busybox-static" >&2
    exit 1
fi

# With --force, the previous image is removed after the rebuild if nothing uses
# it, so repeated rebuilds do not pile up dangling images.
OLD_ID="$(docker image inspect -f '{{.Id}}' "$IMAGE" 2>/dev/null || true)"

ROOT="$(mktemp -d "${TMPDIR:-/tmp}/dockyard-busybox-root.XXXXXX")"
trap 'rm -rf "$ROOT"' EXIT INT TERM

mkdir -p "$ROOT/bin" "$ROOT/etc" "$ROOT/tmp" "$ROOT/var/www" "$ROOT/root" \
         "$ROOT/proc" "$ROOT/sys" "$ROOT/dev"
chmod 1777 "$ROOT/tmp"
cp "$BUSYBOX" "$ROOT/bin/busybox"
chmod 0755 "$ROOT/bin/busybox"

for applet in $("$BUSYBOX" --list); do
    [ "$applet" = busybox ] && continue
    ln -sf busybox "$ROOT/bin/$applet"
done

cat >"$ROOT/etc/passwd" <<'EOF'
root:x:0:0:root:/root:/bin/sh
nobody:x:65534:65534:nobody:/nonexistent:/bin/false
EOF
cat >"$ROOT/etc/group" <<'EOF'
root:x:0:
nobody:x:65534:
EOF
cat >"$ROOT/var/www/index.html" <<'EOF'
<html><body>dockyard test image</body></html>
EOF

# Own everything as root inside the image whatever user runs this script.
tar --numeric-owner --owner=0 --group=0 -C "$ROOT" -cf - . \
    | docker import \
        -c 'CMD ["sh"]' \
        -c 'ENV PATH=/bin' \
        -c 'WORKDIR /var/www' \
        -c 'LABEL dockyard.test-image=1' \
        -m "dockyard test image: busybox-static root filesystem" \
        - "$IMAGE" >/dev/null

NEW_ID="$(docker image inspect -f '{{.Id}}' "$IMAGE")"
if [ -n "$OLD_ID" ] && [ "$OLD_ID" != "$NEW_ID" ]; then
    docker image rm "$OLD_ID" >/dev/null 2>&1 || true
fi
echo "build-test-image: built $IMAGE"
