# Shared by tools/install-central.sh and tools/install-monitor.sh (sourced, not run):
# the options both take, the staging rules and the service user.
#
#   NAME=install-central; source "$(dirname "$0")/install-lib.sh"
#   install_options "$@"      sets ROOT SKIP_VENV MAKE_USER RUN_SYSTEMCTL, handles --help
#   install_target            DESTDIR/--root: a staging tree (no user, chown, systemctl,
#                             venv); else this host, which needs root
#   install_user [GROUPS]     the system user evcharge, if missing
#   step TEXT...              one progress line, prefixed with NAME

ROOT="${DESTDIR:-}"
SKIP_VENV=0
MAKE_USER=1
RUN_SYSTEMCTL=1
PYTHON="${PYTHON:-python3}"

step() { echo "$NAME: $*"; }

install_options() {
    while [ $# -gt 0 ]; do
        case "$1" in
            --root) ROOT="${2:?--root needs a directory}"; shift 2 ;;
            --skip-venv) SKIP_VENV=1; shift ;;
            --no-user) MAKE_USER=0; shift ;;
            --no-systemctl) RUN_SYSTEMCTL=0; shift ;;
            -h|--help) awk 'NR > 1 && /^#/ { sub(/^# ?/, ""); print; next } NR > 1 { exit }' "$0"
                       exit 0 ;;
            *) echo "$NAME: unknown option '$1' (see --help)" >&2; exit 2 ;;
        esac
    done
}

install_target() {
    if [ -n "$ROOT" ]; then
        # A staging tree is not this host: leave its users and services alone, and make
        # no virtualenv (one only works at the path it was made in).
        mkdir -p "$ROOT"
        ROOT="$(cd "$ROOT" && pwd)"
        SKIP_VENV=1
        MAKE_USER=0
        RUN_SYSTEMCTL=0
    elif [ "$(id -u)" != 0 ]; then
        echo "$NAME: run as root (sudo make $NAME), or set DESTDIR=DIR" >&2
        exit 2
    fi
}

install_user() {
    if [ "$MAKE_USER" = 1 ] && ! id evcharge >/dev/null 2>&1; then
        step "creating system user evcharge"
        useradd --system --no-create-home --home-dir /var/lib/evcharge \
            --shell /usr/sbin/nologin ${1:+--groups "$1"} evcharge
    fi
}
