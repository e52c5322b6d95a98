#!/bin/bash
# vaxkiosk installer for Raspberry Pi OS (64-bit, Bookworm), Lite or Desktop. Run as root from a checkout:
#   sudo provisioning/install-pi.sh                 # kiosk (default)
#   sudo provisioning/install-pi.sh --central       # central server (broker + aggregator), any Debian 12
# Then on a kiosk: sudo vaxkiosk provision --central https://central.example.vn --code XXXX-XXXX-XXXX --enable-services
# Idempotent: running it again upgrades the code and keeps the configuration and data.
set -euo pipefail

ROLE=kiosk
[ "${1:-}" = "--central" ] && ROLE=central
SRC=$(cd "$(dirname "$0")/.." && pwd)
PREFIX=/opt/vaxkiosk
VENV=$PREFIX/venv
DATA=/var/lib/vaxkiosk

[ "$(id -u)" = 0 ] || { echo "run as root (sudo)"; exit 1; }
. /etc/os-release
[ "${VERSION_CODENAME:-}" = bookworm ] || echo "warning: tested on Debian/Raspberry Pi OS bookworm, this is ${VERSION_CODENAME:-unknown}"
if [ "$ROLE" = kiosk ] && [ "$(uname -m)" != aarch64 ]; then
    echo "warning: $(uname -m): zxing-cpp has wheels for 64-bit ARM only; use the 64-bit Raspberry Pi OS image"
fi

echo "==> Debian packages"
COMMON="python3 python3-venv python3-dev libzbar0 fonts-dejavu-core chrony rsync"
# espeak-ng: the waiting-room display's spoken calls (kiosk/speech.py).
KIOSK_PKGS="cage chromium-browser libcamera-apps python3-picamera2 mosquitto-clients espeak-ng"
CENTRAL_PKGS="mosquitto mosquitto-clients"
apt-get update -qq
if [ "$ROLE" = kiosk ]; then PKGS="$COMMON $KIOSK_PKGS"; else PKGS="$COMMON $CENTRAL_PKGS"; fi
# chromium is called chromium-browser on Raspberry Pi OS and chromium on Debian.
apt-cache show chromium-browser >/dev/null 2>&1 || PKGS=${PKGS/chromium-browser/chromium}
DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $PKGS

echo "==> code and virtual environment in $PREFIX"
mkdir -p "$PREFIX"
rsync -a --delete --exclude .git --exclude .venv --exclude '__pycache__' "$SRC/" "$PREFIX/src/"
# System site packages: picamera2 (CSI camera modules) only exists as a Debian package.
[ -x "$VENV/bin/python" ] || python3 -m venv --system-site-packages "$VENV"
"$VENV/bin/pip" install -q --upgrade pip
"$VENV/bin/pip" install -q "$PREFIX/src"
ln -sf "$VENV/bin/vaxkiosk" /usr/local/bin/vaxkiosk
[ -x /usr/bin/chromium ] || ln -sf /usr/bin/chromium-browser /usr/bin/chromium

if [ "$ROLE" = kiosk ]; then
    echo "==> users, devices, data directory"
    id vaxkiosk >/dev/null 2>&1 || useradd --system --home-dir "$DATA" --shell /usr/sbin/nologin vaxkiosk
    usermod -aG video,lp,dialout vaxkiosk
    id vaxkiosk-screen >/dev/null 2>&1 || useradd --system --create-home --home-dir /var/lib/vaxkiosk-screen \
        --shell /usr/sbin/nologin vaxkiosk-screen
    usermod -aG video,render,input,tty vaxkiosk-screen
    install -d -o vaxkiosk -g vaxkiosk -m 0750 "$DATA"
    # The kiosk writes its own identity here at first boot (set-up code scanned by its camera).
    install -d -o vaxkiosk -g vaxkiosk -m 0750 /etc/vaxkiosk
    if [ ! -e /etc/vaxkiosk/kiosk.toml ]; then
        # Hardware part only: with no [kiosk] identity, `vaxkiosk kiosk` starts in set-up mode and shows
        # "scan the set-up code" (kiosk/first_boot.py). The first USB camera found is used.
        camera=$(ls /dev/v4l/by-id/*-video-index0 2>/dev/null | head -n 1)
        install -o vaxkiosk -g vaxkiosk -m 0600 /dev/null /etc/vaxkiosk/kiosk.toml
        printf '[kiosk]\ndata_dir = "%s"\n\n[camera]\nenabled = %s\nsource = "%s"\n' \
            "$DATA" "$([ -n "$camera" ] && echo true || echo false)" "$camera" > /etc/vaxkiosk/kiosk.toml
    fi
    install -m 0644 "$SRC/provisioning/udev/60-vaxkiosk.rules" /etc/udev/rules.d/
    install -m 0644 "$SRC/provisioning/udev/blacklist-usblp.conf" /etc/modprobe.d/vaxkiosk-usblp.conf
    udevadm control --reload && udevadm trigger
    rmmod usblp 2>/dev/null || true

    echo "==> systemd units"
    install -m 0644 "$SRC/systemd/vaxkiosk-kiosk.service" "$SRC/systemd/vaxkiosk-browser.service" /etc/systemd/system/
    # The screen owns tty1; boot to the console, not to a desktop session.
    systemctl set-default multi-user.target
    systemctl disable --now getty@tty1.service 2>/dev/null || true
    # The clock: no RTC on a Pi. chrony steps the clock at boot as soon as the network is up, and the kiosk marks
    # events with clock_synced=false until then (central corrects them). fake-hwclock keeps the last shutdown time
    # so that at least the date is close after a reboot without network.
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq fake-hwclock
    systemctl enable chrony.service fake-hwclock.service
    systemctl daemon-reload
    echo
    systemctl enable vaxkiosk-kiosk.service vaxkiosk-browser.service
    echo "Next: reboot and hold the set-up QR to the camera, or: sudo vaxkiosk provision --central URL --code CODE"
    echo "      --enable-services; then sudo -u vaxkiosk vaxkiosk doctor"
else
    echo "==> central: users, broker configuration, units"
    id vaxkiosk-central >/dev/null 2>&1 || useradd --system --home-dir /var/lib/vaxkiosk-central \
        --shell /usr/sbin/nologin vaxkiosk-central
    usermod -aG mosquitto vaxkiosk-central
    install -d -o vaxkiosk-central -g vaxkiosk-central -m 0750 /var/lib/vaxkiosk-central
    install -d -o vaxkiosk-central -g mosquitto -m 0750 /var/lib/vaxkiosk-central/broker
    install -d -o root -g vaxkiosk-central -m 0750 /etc/vaxkiosk
    install -m 0644 "$SRC/systemd/vaxkiosk-central.service" "$SRC/systemd/vaxkiosk-broker-reload.path" \
        "$SRC/systemd/vaxkiosk-broker-reload.service" /etc/systemd/system/
    install -d /etc/systemd/system/mosquitto.service.d
    install -m 0644 "$SRC/systemd/mosquitto.service.d/vaxkiosk.conf" /etc/systemd/system/mosquitto.service.d/
    systemctl daemon-reload
    echo
    echo "Next: write /etc/vaxkiosk/central.toml ([central], [mqtt] port = 1883 and password, [registry]), then"
    echo "      sudo vaxkiosk central broker-config --conf /etc/mosquitto/conf.d/vaxkiosk.conf \\"
    echo "        --central-listen 127.0.0.1:1883 --tls-listen 8883 --tls-host central.example.vn"
    echo "      systemctl enable --now mosquitto vaxkiosk-broker-reload.path vaxkiosk-central"
fi
