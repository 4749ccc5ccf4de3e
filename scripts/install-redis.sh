#!/usr/bin/env bash
# Installs Debian's redis-server for the CeleryExecutor deployment tests (tests/deployment), once.
#
# Idempotent: does nothing when redis-server is already on PATH, and runs `apt-get update` only when it
# is missing. Only the binary is used: the tests start their own redis-server bound to 127.0.0.1 on a
# free port, with no persistence, and stop it by PID. The Debian package also enables a system service
# on port 6379; the tests never use it, and this script stops it again where systemd is not running it.
set -euo pipefail

if command -v redis-server >/dev/null 2>&1; then
    exit 0
fi
if ! command -v apt-get >/dev/null 2>&1; then
    echo "install-redis.sh: apt-get not found; install redis-server by hand." >&2
    exit 1
fi
sudo=()
if [ "$(id -u)" -ne 0 ]; then
    if command -v sudo >/dev/null 2>&1; then
        sudo=(sudo)
    else
        echo "install-redis.sh: need root (or sudo) to install redis-server." >&2
        exit 1
    fi
fi

echo "install-redis.sh: installing redis-server (Debian package)" >&2
export DEBIAN_FRONTEND=noninteractive
# No service start from the package's maintainer scripts: the tests run their own server.
policy_rc=/usr/sbin/policy-rc.d
created_policy=0
if [ ! -e "$policy_rc" ]; then
    printf '#!/bin/sh\nexit 101\n' | "${sudo[@]}" tee "$policy_rc" >/dev/null
    "${sudo[@]}" chmod +x "$policy_rc"
    created_policy=1
fi
trap '[ "$created_policy" -eq 1 ] && "${sudo[@]}" rm -f "$policy_rc"' EXIT
"${sudo[@]}" apt-get update -qq >/dev/null
"${sudo[@]}" apt-get install -y -qq --no-install-recommends redis-server >/dev/null
command -v redis-server >/dev/null
redis-server --version >&2
