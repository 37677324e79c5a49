#!/bin/sh
# Install the system packages Palaver's browser and TURN tests need (Debian/Ubuntu).
# Idempotent and quiet when everything is already installed; runs as root without prompts.
set -eu

export DEBIAN_FRONTEND=noninteractive

# chromium: the browser Playwright drives (executable_path=/usr/bin/chromium).
# fonts-noto-core: glyphs for Arabic (and most other scripts) so RTL pages render correctly.
# fonts-dejavu-core: a reliable Latin fallback.
# coturn: the TURN server (turnserver) that tests start on loopback on their own free ports.
PACKAGES="chromium fonts-noto-core fonts-dejavu-core coturn"

missing=""
for pkg in $PACKAGES; do
    if ! dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed"; then
        missing="$missing $pkg"
    fi
done

if [ -x /usr/bin/chromium ] && [ -x /usr/bin/turnserver ] && [ -z "$missing" ]; then
    exit 0
fi

if [ "$(id -u)" -ne 0 ]; then
    if command -v sudo >/dev/null 2>&1; then
        SUDO="sudo -E"
    else
        echo "install-system-deps: need root to install:$missing" >&2
        exit 1
    fi
else
    SUDO=""
fi

echo "install-system-deps: installing:$missing"
$SUDO apt-get update -qq
# shellcheck disable=SC2086
$SUDO apt-get install -y -qq --no-install-recommends $missing

# Debian's coturn package enables and starts a system-wide turnserver on port 3478 (on every
# interface, with the sample configuration). The tests start their own; a TURN server for
# production is set up on purpose (docs/operations.md). So when this script installed coturn,
# make sure no system service is left running or enabled. A coturn that was there before is
# not touched.
case " $missing " in
    *" coturn "*)
        if [ -d /run/systemd/system ] && command -v systemctl >/dev/null 2>&1; then
            $SUDO systemctl disable --now coturn >/dev/null 2>&1 || true
        elif command -v service >/dev/null 2>&1; then
            $SUDO service coturn stop >/dev/null 2>&1 || true
        fi
        ;;
esac
