#!/usr/bin/env bash
# A single-node Apache Kafka 4.x broker (KRaft) on loopback, for CI and tests.
#
#   tools/apache-kafka.sh start    fetch (first time), format fresh storage, start,
#                                  wait, print `bootstrap=HOST:PORT version=X.Y.Z
#                                  sasl_bootstrap=HOST:PORT config=FILE` (one line)
#   tools/apache-kafka.sh stop     SIGTERM, wait, SIGKILL if needed (data kept)
#   tools/apache-kafka.sh kill     SIGKILL at once: a broker crash (data kept)
#   tools/apache-kafka.sh resume   start the stopped broker again on its data
#                                  (same ports), print the same line
#   tools/apache-kafka.sh status   say whether it runs (exit 0) or not (exit 3)
#
# The broker comes from Maven Central through Maven (tools/apache-kafka/pom.xml),
# copied once into ${EVCHARGE_CACHE:-~/.cache/evcharge}/apache-kafka-VERSION/libs.
# Settings (environment): EVCHARGE_KAFKA_PORT (default 39092, or a free port if
# that one is taken), EVCHARGE_KAFKA_CONTROLLER_PORT (default: a free port),
# EVCHARGE_APACHE_KAFKA_DIR (run folder: config, data, logs, pid, broker.env),
# EVCHARGE_KAFKA_START_TIMEOUT (seconds, default 120), MAVEN_OPTS, JAVA_HOME,
# EVCHARGE_KAFKA_SASL_PORT (default: a free port).
#
# Besides the PLAINTEXT listener the broker has a SASL_SSL one (SCRAM-SHA-256):
# its user and random password are created when the storage is formatted, its
# certificate (PEM, for 127.0.0.1 and localhost) comes from `evcharge pki` in
# the run folder's pki/, and sasl-client.properties there (0600) is the
# --kafka-config a client needs: sasl_bootstrap= and config= on the result line.
# Without the venv (no `evcharge pki`) the broker starts without that listener.
# Only the result line goes to stdout; everything else to stderr or
# the run folder's logs (server.log, broker.out).
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(dirname "$HERE")"
POM="$HERE/apache-kafka/pom.xml"
# HOME may be unset in a bare CI environment: fall back to the account's home.
HOME_DIR="${HOME:-$(getent passwd "$(id -u)" | cut -d: -f6)}"
CACHE="${EVCHARGE_CACHE:-$HOME_DIR/.cache/evcharge}"
RUN_DIR="${EVCHARGE_APACHE_KAFKA_DIR:-$CACHE/apache-kafka-run}"
HOST=127.0.0.1
DEFAULT_PORT=39092
START_TIMEOUT="${EVCHARGE_KAFKA_START_TIMEOUT:-120}"
STOP_TIMEOUT=30
PID_FILE="$RUN_DIR/broker.pid"
STATE_FILE="$RUN_DIR/broker.env"

log() { echo "apache-kafka: $*" >&2; }
die() { log "error: $*"; exit 1; }

kafka_version() {
    sed -n 's:.*<kafka.version>\(.*\)</kafka.version>.*:\1:p' "$POM" | head -n 1
}

java_bin() {
    if [ -n "${JAVA_HOME:-}" ] && [ -x "$JAVA_HOME/bin/java" ]; then
        echo "$JAVA_HOME/bin/java"
    else
        command -v java || die "java not found (Java 17 or newer is needed)"
    fi
}

python_bin() {
    if [ -x "$ROOT/.venv/bin/python" ]; then echo "$ROOT/.venv/bin/python"; else command -v python3; fi
}

# True when nothing listens on HOST:$1 (bound with SO_REUSEADDR, as the JVM binds).
port_free() {
    "$(python_bin)" - "$HOST" "$1" <<'EOF'
import socket, sys
s = socket.socket()
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
try:
    s.bind((sys.argv[1], int(sys.argv[2])))
except OSError:
    sys.exit(1)
EOF
}

# Wait (up to 15 s) until each given port is free; false if one stays taken.
wait_ports_free() {
    local deadline=$((SECONDS + 15)) port
    for port in "$@"; do
        [ -n "$port" ] || continue
        until port_free "$port"; do
            [ $SECONDS -lt $deadline ] || return 1
            sleep 0.2
        done
    done
}

free_port() {
    "$(python_bin)" -c 'import socket, sys; s = socket.socket(); s.bind((sys.argv[1], 0)); print(s.getsockname()[1])' "$HOST"
}

# A live process (a zombie waiting for its reaper counts as gone).
alive() {
    kill -0 "$1" 2>/dev/null || return 1
    [ "$(sed -n 's/^State:[[:space:]]*\([A-Z]\).*/\1/p' "/proc/$1/status" 2>/dev/null)" != Z ]
}

broker_pid() {
    [ -f "$PID_FILE" ] || return 1
    local pid
    pid="$(cat "$PID_FILE")"
    [ -n "$pid" ] && alive "$pid" || return 1
    # A stale pid file whose number now belongs to another program is no broker.
    tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | grep -q 'kafka\.Kafka' || return 1
    echo "$pid"
}

# The broker's class path: copied from Maven Central by Maven once per version.
fetch_libs() {
    local version="$1" dest="$CACHE/apache-kafka-$1"
    LIBS="$dest/libs"
    if [ -f "$LIBS/.complete" ]; then
        return
    fi
    command -v mvn >/dev/null || die "mvn not found (Maven is needed to fetch Apache Kafka)"
    mkdir -p "$dest"
    local partial="$dest/libs.partial.$$" started=$SECONDS
    rm -rf "$partial"
    log "fetching Apache Kafka $version with Maven into $LIBS (first run only)"
    if ! mvn -B -q -f "$POM" -Dkafka.version="$version" dependency:copy-dependencies \
            -DincludeScope=runtime -DoutputDirectory="$partial" >"$dest/mvn.log" 2>&1; then
        tail -n 30 "$dest/mvn.log" >&2
        rm -rf "$partial"
        die "Maven could not fetch Apache Kafka $version (log: $dest/mvn.log)"
    fi
    ls "$partial"/kafka_2.13-"$version".jar >/dev/null 2>&1 || die "kafka_2.13-$version.jar missing after Maven"
    rm -rf "$LIBS"
    mv "$partial" "$LIBS"
    touch "$LIBS/.complete"
    log "fetched $(find "$LIBS" -name '*.jar' | wc -l) jars in $((SECONDS - started)) s"
}

write_config() {
    local port="$1" controller_port="$2"
    sed -e "s#@HOST@#$HOST#g" -e "s#@PORT@#$port#g" \
        -e "s#@CONTROLLER_PORT@#$controller_port#g" -e "s#@LOG_DIR@#$RUN_DIR/data#g" \
        "$HERE/apache-kafka/server.properties.in" >"$RUN_DIR/server.properties"
}

SASL_USER=evcharge
SASL_CONFIG_NAME=sasl-client.properties

# The SASL_SSL listener (on $1; $2 and $3 the PLAINTEXT and controller ports):
# certificate, random password, client config and the broker's settings.
# False, with nothing changed, when `evcharge pki` is not available.
prepare_sasl() {
    local sasl_port="$1" port="$2" controller_port="$3" pki="$RUN_DIR/pki" py password
    py="$(python_bin)"
    "$py" -c 'import evcharge.pki' 2>/dev/null || {
        log "no evcharge package for the SASL_SSL listener's certificate: PLAINTEXT only"
        return 1
    }
    rm -rf "$pki"
    mkdir -p "$pki"
    chmod 700 "$pki"
    for args in "init --dir $pki --name evcharge-test-kafka-ca" \
                "server --dir $pki --name localhost --ip $HOST"; do
        # shellcheck disable=SC2086  # our own words; the run folder has no spaces
        "$py" -c 'import sys; from evcharge.pki import main; sys.exit(main(sys.argv[1:]))' \
            $args >/dev/null || die "evcharge pki $args failed"
    done
    # Kafka's PEM key store: the private key (PKCS#8, unencrypted) and the chain.
    cat "$pki/localhost.key" "$pki/localhost.pem" >"$pki/keystore.pem"
    chmod 600 "$pki/keystore.pem"
    password="$("$py" -c 'import secrets; print(secrets.token_hex(16))')"
    (umask 077 && printf '%s\n' "security.protocol=SASL_SSL" "sasl.mechanism=SCRAM-SHA-256" \
        "sasl.username=$SASL_USER" "sasl.password=$password" "ssl.ca.location=$pki/ca.pem" \
        >"$RUN_DIR/$SASL_CONFIG_NAME")
    SASL_PASSWORD="$password"
    # Later keys win in a properties file: these replace the template's listeners.
    printf '%s\n' "" "# A second listener: SASL_SSL with SCRAM-SHA-256 (tools/apache-kafka.sh)." \
        "listeners=PLAINTEXT://$HOST:$port,CONTROLLER://$HOST:$controller_port,SASL_SSL://$HOST:$sasl_port" \
        "advertised.listeners=PLAINTEXT://$HOST:$port,SASL_SSL://$HOST:$sasl_port" \
        "listener.security.protocol.map=PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT,SASL_SSL:SASL_SSL" \
        "sasl.enabled.mechanisms=SCRAM-SHA-256" \
        "listener.name.sasl_ssl.scram-sha-256.sasl.jaas.config=org.apache.kafka.common.security.scram.ScramLoginModule required;" \
        "listener.name.sasl_ssl.ssl.keystore.type=PEM" \
        "listener.name.sasl_ssl.ssl.keystore.location=$pki/keystore.pem" \
        >>"$RUN_DIR/server.properties"
}

format_storage() {
    local java="$1" cluster_id scram=()
    cluster_id="$("$java" -cp "$LIBS/*" kafka.tools.StorageTool random-uuid 2>>"$RUN_DIR/broker.out")"
    # The SASL_SSL listener's user (SCRAM credentials live in the cluster metadata).
    if [ -n "${SASL_PASSWORD:-}" ]; then
        scram=(--add-scram "SCRAM-SHA-256=[name=$SASL_USER,password=$SASL_PASSWORD]")
    fi
    "$java" -cp "$LIBS/*" kafka.tools.StorageTool format --cluster-id "$cluster_id" \
        --config "$RUN_DIR/server.properties" "${scram[@]}" >>"$RUN_DIR/broker.out" 2>&1 \
        || { tail -n 20 "$RUN_DIR/broker.out" >&2; die "formatting KRaft storage failed"; }
    log "formatted $RUN_DIR/data with cluster id $cluster_id"
}

launch() {
    local java="$1"
    # setsid: the broker leaves this script's process group, so it outlives the
    # caller's terminal and only `stop`/`kill` (by pid) end it.
    setsid "$java" -Xms128m -Xmx512m -XX:+UseG1GC -XX:MaxGCPauseMillis=20 \
        -Djava.awt.headless=true -Dkafka.logs.dir="$RUN_DIR/logs" \
        -Dlog4j2.configurationFile="$HERE/apache-kafka/log4j2.properties" \
        -cp "$LIBS/*" kafka.Kafka "$RUN_DIR/server.properties" \
        >>"$RUN_DIR/broker.out" 2>&1 </dev/null &
    echo $! >"$PID_FILE"
}

# Until the broker answers a metadata request (evkafka.client.wait_broker),
# or at least accepts TCP connections when the venv is not there yet.
wait_ready() {
    local bootstrap="$1" pid="$2" deadline=$((SECONDS + START_TIMEOUT))
    local py
    py="$(python_bin)"
    while [ $SECONDS -lt $deadline ]; do
        alive "$pid" || {
            tail -n 30 "$RUN_DIR/broker.out" "$RUN_DIR/logs/server.log" >&2 2>/dev/null || true
            die "the broker exited during start-up (logs in $RUN_DIR)"
        }
        if "$py" -c 'import evkafka.client' 2>/dev/null; then
            if "$py" -c 'import sys; from evkafka.client import wait_broker; wait_broker(sys.argv[1], 3)' \
                    "$bootstrap" 2>/dev/null; then
                return
            fi
        elif (exec 3<>"/dev/tcp/$HOST/${bootstrap##*:}") 2>/dev/null; then
            return
        fi
        sleep 0.5
    done
    kill -KILL "$pid" 2>/dev/null || true  # a broker that never became usable is not left behind
    die "the broker did not accept clients within $START_TIMEOUT s (logs in $RUN_DIR)"
}

announce() {
    local bootstrap="$1" version="$2" pid="$3" port="$4" controller_port="$5"
    local sasl_port="${6:-}" sasl=""
    cat >"$STATE_FILE" <<EOF
BOOTSTRAP=$bootstrap
VERSION=$version
PID=$pid
PORT=$port
CONTROLLER_PORT=$controller_port
SASL_PORT=$sasl_port
LIBS=$LIBS
RUN_DIR=$RUN_DIR
EOF
    if [ -n "$sasl_port" ]; then
        sasl=" sasl_bootstrap=$HOST:$sasl_port config=$RUN_DIR/$SASL_CONFIG_NAME"
    fi
    echo "bootstrap=$bootstrap version=$version$sasl"
}

start_process() {
    local version="$1" port="$2" controller_port="$3" sasl_port="${4:-}" java
    java="$(java_bin)"
    launch "$java"
    local pid bootstrap="$HOST:$port" started=$SECONDS
    pid="$(cat "$PID_FILE")"
    wait_ready "$bootstrap" "$pid"
    log "Apache Kafka $version ready on $bootstrap (pid $pid) in $((SECONDS - started)) s"
    announce "$bootstrap" "$version" "$pid" "$port" "$controller_port" "$sasl_port"
}

cmd_start() {
    if pid="$(broker_pid)"; then
        die "already running (pid $pid, $(grep BOOTSTRAP "$STATE_FILE" 2>/dev/null)); stop it first"
    fi
    local version="${EVCHARGE_KAFKA_VERSION:-$(kafka_version)}"
    [ -n "$version" ] || die "no kafka.version in $POM"
    fetch_libs "$version"
    local port="${EVCHARGE_KAFKA_PORT:-$DEFAULT_PORT}"
    if ! port_free "$port"; then
        [ -z "${EVCHARGE_KAFKA_PORT:-}" ] || die "port $port is in use (EVCHARGE_KAFKA_PORT)"
        port="$(free_port)"
        log "port $DEFAULT_PORT is in use; using $port"
    fi
    local controller_port="${EVCHARGE_KAFKA_CONTROLLER_PORT:-$(free_port)}"
    [ "$controller_port" != "$port" ] || controller_port="$(free_port)"
    # A fresh cluster each start: no topic or offset of an earlier run survives.
    # (Only the script's own entries are removed: the folder is configurable.)
    mkdir -p "$RUN_DIR"
    (cd "$RUN_DIR" && rm -rf data logs server.properties broker.out broker.env broker.pid \
        pki "$SASL_CONFIG_NAME")
    mkdir -p "$RUN_DIR/data" "$RUN_DIR/logs"
    write_config "$port" "$controller_port"
    local sasl_port="${EVCHARGE_KAFKA_SASL_PORT:-$(free_port)}"
    SASL_PASSWORD=""
    prepare_sasl "$sasl_port" "$port" "$controller_port" || sasl_port=""
    format_storage "$(java_bin)"
    start_process "$version" "$port" "$controller_port" "$sasl_port"
}

cmd_resume() {
    if pid="$(broker_pid)"; then
        die "already running (pid $pid)"
    fi
    if [ ! -f "$STATE_FILE" ] || [ ! -f "$RUN_DIR/server.properties" ]; then
        die "nothing to resume in $RUN_DIR (run start first)"
    fi
    local VERSION PORT CONTROLLER_PORT SASL_PORT
    VERSION="$(sed -n 's/^VERSION=//p' "$STATE_FILE")"
    PORT="$(sed -n 's/^PORT=//p' "$STATE_FILE")"
    CONTROLLER_PORT="$(sed -n 's/^CONTROLLER_PORT=//p' "$STATE_FILE")"
    SASL_PORT="$(sed -n 's/^SASL_PORT=//p' "$STATE_FILE")"
    LIBS="$(sed -n 's/^LIBS=//p' "$STATE_FILE")"
    wait_ports_free "$PORT" "$CONTROLLER_PORT" "$SASL_PORT" \
        || die "a port of $PORT $CONTROLLER_PORT $SASL_PORT is taken by another process; cannot resume"
    start_process "$VERSION" "$PORT" "$CONTROLLER_PORT" "$SASL_PORT"
}

cmd_stop() {
    local signal="$1" pid
    if ! pid="$(broker_pid)"; then
        log "not running"
        rm -f "$PID_FILE"
        return 0
    fi
    if [ "$signal" = KILL ]; then
        kill -KILL "$pid" 2>/dev/null || true
    else
        kill -TERM "$pid" 2>/dev/null || true
        local deadline=$((SECONDS + STOP_TIMEOUT))
        while alive "$pid" && [ $SECONDS -lt $deadline ]; do
            sleep 0.2
        done
        if alive "$pid"; then
            log "pid $pid still running after $STOP_TIMEOUT s: SIGKILL"
            kill -KILL "$pid" 2>/dev/null || true
        fi
    fi
    while alive "$pid"; do sleep 0.1; done
    # The leader thread can be gone while the JVM's other threads still hold the
    # sockets: `resume` needs the ports back, so wait for them too.
    wait_ports_free "$(sed -n 's/^PORT=//p' "$STATE_FILE" 2>/dev/null)" \
        "$(sed -n 's/^CONTROLLER_PORT=//p' "$STATE_FILE" 2>/dev/null)" \
        "$(sed -n 's/^SASL_PORT=//p' "$STATE_FILE" 2>/dev/null)" \
        || log "warning: pid $pid is gone but its ports are still taken"
    rm -f "$PID_FILE"
    log "stopped (pid $pid, SIG$signal)"
}

cmd_status() {
    local pid
    if pid="$(broker_pid)"; then
        echo "running pid=$pid $(tr '\n' ' ' <"$STATE_FILE" | sed 's/ $//')"
        return 0
    fi
    echo "not running"
    return 3
}

case "${1:-}" in
    start) cmd_start ;;
    resume) cmd_resume ;;
    stop) cmd_stop TERM ;;
    kill) cmd_stop KILL ;;
    status) cmd_status ;;
    *) echo "usage: $0 start|stop|kill|resume|status" >&2; exit 2 ;;
esac
