#!/usr/bin/env bash
# Install evcharge Central as a systemd service on the hub (any systemd Linux).
#
#   sudo bash tools/install-central.sh           (what `make install-central` runs)
#   make install-central DESTDIR=/tmp/stage      (a staging tree, no root needed)
#
# 1. a system user `evcharge`;
# 2. a virtualenv in /opt/evcharge/venv with this repository and its dependencies;
# 3. the unit /etc/systemd/system/evcharge-central.service;
# 4. /etc/evcharge/central.env from the sample, unless one exists (never overwritten);
# 5. /etc/evcharge/admin.token, a random admin token (0600, owner evcharge), unless
#    one exists; it is never printed;
# 6. systemctl daemon-reload and enable (not start: edit central.env first).
# The database goes to /var/lib/evcharge/central.db, created by systemd (StateDirectory=).
#
# DESTDIR=DIR (or --root DIR) installs under DIR, for packaging or a dry run: no user,
# no chown, no systemctl, and no virtualenv (a venv only works at the path it was
# made in). Options: --root DIR, --skip-venv, --no-user, --no-systemctl.
set -euo pipefail

REPO="$(cd "$(dirname "$0")/.." && pwd)"
NAME=install-central
# shellcheck source=tools/install-lib.sh
source "$REPO/tools/install-lib.sh"
install_options "$@"
install_target

PREFIX="$ROOT/opt/evcharge"
CONF_DIR="$ROOT/etc/evcharge"
UNIT_DIR="$ROOT/etc/systemd/system"
DEPLOY="$REPO/hub/evcentral/deploy"
TOKEN="$CONF_DIR/admin.token"

install_user

mkdir -p "$PREFIX/docs" "$CONF_DIR" "$UNIT_DIR"

if [ "$SKIP_VENV" = 0 ]; then
    step "virtualenv in $PREFIX/venv"
    "$PYTHON" -m venv "$PREFIX/venv"
    "$PREFIX/venv/bin/pip" install --quiet --upgrade pip
    step "installing evcharge and its dependencies"
    "$PREFIX/venv/bin/pip" install --quiet --upgrade "$REPO"
else
    step "no virtualenv (expected at /opt/evcharge/venv on the target)"
fi

step "unit $UNIT_DIR/evcharge-central.service"
install -m 0644 "$DEPLOY/evcharge-central.service" "$UNIT_DIR/evcharge-central.service"
install -m 0644 "$REPO/docs/CENTRAL.md" "$PREFIX/docs/CENTRAL.md"
install -m 0644 "$DEPLOY/central.env.example" "$CONF_DIR/central.env.example"
if [ -e "$CONF_DIR/central.env" ]; then
    step "keeping the existing $CONF_DIR/central.env"
else
    step "sample settings $CONF_DIR/central.env (edit it: listen address, Kafka, TLS)"
    install -m 0640 "$DEPLOY/central.env.example" "$CONF_DIR/central.env"
fi

if [ -e "$TOKEN" ]; then
    step "keeping the existing admin token $TOKEN"
else
    step "a new admin token in $TOKEN (0600; operators: evcharge admin --admin-token-file)"
    # Made 0600 before the token goes in: no moment where another user could read it.
    (umask 077; : > "$TOKEN")
    chmod 0600 "$TOKEN"
    head -c 24 /dev/urandom | base64 > "$TOKEN"
fi
if [ "$MAKE_USER" = 1 ]; then
    chown evcharge:evcharge "$TOKEN"  # Central runs as evcharge and reads it at start
    chgrp evcharge "$CONF_DIR/central.env"
fi

if [ "$RUN_SYSTEMCTL" = 1 ]; then
    systemctl daemon-reload
    systemctl enable evcharge-central.service
    step "enabled. Next: edit $CONF_DIR/central.env, then: systemctl start evcharge-central;" \
         "journalctl -u evcharge-central -f"
fi
