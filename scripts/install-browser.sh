#!/usr/bin/env bash
# Installs Debian's Chromium and its WebDriver for the browser tests (tests/ui), once.
#
# Idempotent: does nothing when /usr/bin/chromium and /usr/bin/chromedriver are already there, and runs
# `apt-get update` only when a package is missing. Never downloads a browser build of its own: the tests
# drive Debian's chromium (Playwright with executable_path=/usr/bin/chromium).
set -euo pipefail

packages=()
command -v chromium >/dev/null 2>&1 || packages+=(chromium)
command -v chromedriver >/dev/null 2>&1 || packages+=(chromium-driver)
if [ "${#packages[@]}" -eq 0 ]; then
    exit 0
fi

if ! command -v apt-get >/dev/null 2>&1; then
    echo "install-browser.sh: apt-get not found; install Chromium (${packages[*]}) by hand." >&2
    exit 1
fi
sudo=()
if [ "$(id -u)" -ne 0 ]; then
    if command -v sudo >/dev/null 2>&1; then
        sudo=(sudo)
    else
        echo "install-browser.sh: need root (or sudo) to install ${packages[*]}." >&2
        exit 1
    fi
fi

echo "install-browser.sh: installing ${packages[*]} (Debian packages)" >&2
export DEBIAN_FRONTEND=noninteractive
"${sudo[@]}" apt-get update -qq >/dev/null
"${sudo[@]}" apt-get install -y -qq --no-install-recommends "${packages[@]}" >/dev/null
command -v chromium >/dev/null && command -v chromedriver >/dev/null
chromium --version >&2
