"""Fixtures shared by tests/ and hw_tests/: processes, ports, Kafka, PostgreSQL."""
from __future__ import annotations

import os
import uuid
from pathlib import Path

import pytest

from evharness.pgcluster import PgCluster, PgUnavailable
from evharness.procs import ProcessGroup, free_port, micropython_binary, wait_port
from evkafka import apache as apache_kafka
from evkafka import names as kafka_names
from evkafka.broker import spawn

ENV_TEST_KAFKA = "EVCHARGE_TEST_KAFKA"


def pytest_report_header(config):
    """Say which Kafka broker the Kafka-backed tests use (CI shows Apache Kafka's version)."""
    external = os.environ.get(ENV_TEST_KAFKA)
    if not external:
        return "kafka: a local Tansu broker per xdist worker (set EVCHARGE_TEST_KAFKA for another)"
    if apache_kafka.controls(external):
        return f"kafka: Apache Kafka {apache_kafka.version()} at {external} (tools/apache-kafka.sh)"
    return f"kafka: external broker at {external} (EVCHARGE_TEST_KAFKA)"


@pytest.fixture
def procs(tmp_path, request):
    """A ProcessGroup whose processes are stopped after the test (logs dumped on failure)."""
    group = ProcessGroup(tmp_path / "logs")
    yield group
    failed = getattr(request.node, "rep_call", None)
    if failed is not None and failed.failed:
        group.dump_logs()
    group.close()


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_runtest_makereport(item, call):
    rep = yield
    setattr(item, "rep_" + rep.when, rep)
    return rep


@pytest.fixture
def port():
    return free_port()


@pytest.fixture(scope="session")
def micropython():
    return micropython_binary()


@pytest.fixture(scope="session")
def kafka_bootstrap(tmp_path_factory):
    """A Kafka-protocol broker: EVCHARGE_TEST_KAFKA if set, else a local Tansu per worker."""
    external = os.environ.get(ENV_TEST_KAFKA)
    if external:
        yield external
        return
    p = free_port()
    log = tmp_path_factory.mktemp("broker") / "broker.log"
    proc = spawn(f"127.0.0.1:{p}", str(log))
    try:
        wait_port("127.0.0.1", p, timeout=20, proc=proc)
        yield f"127.0.0.1:{p}"
    finally:
        proc.terminate()
        proc.wait(10)


@pytest.fixture
def kafka_ns(monkeypatch):
    """A unique topic/group namespace for this test (inherited by child processes).

    On the Apache Kafka broker of tools/apache-kafka.sh (shared by all xdist
    workers) it also holds a shared lease, so no other test restarts it meanwhile.
    """
    ns = "t" + uuid.uuid4().hex[:10] + "."
    monkeypatch.setenv(kafka_names.ENV_NAMESPACE, ns)
    external = os.environ.get(ENV_TEST_KAFKA)
    with apache_kafka.lease(external):
        if apache_kafka.controls(external):
            apache_kafka.sweep(external)  # earlier tests' topics: keeps restarts fast
            apache_kafka.retire_namespace(ns)
        yield ns


@pytest.fixture
def restartable_broker(kafka_bootstrap, kafka_ns):
    """evkafka.apache (stop/kill/start keeping the data) when the test broker is the
    Apache Kafka of tools/apache-kafka.sh; skips otherwise (Tansu keeps no data)."""
    if not apache_kafka.controls(kafka_bootstrap):
        pytest.skip("needs the restartable Apache Kafka broker of tools/apache-kafka.sh "
                    f"(EVCHARGE_TEST_KAFKA); this run uses {kafka_bootstrap}")
    yield apache_kafka
    try:
        if not apache_kafka.running():  # never leave the shared broker down for later tests
            apache_kafka.start()
    finally:
        apache_kafka.release()


@pytest.fixture
def broker_is_durable():
    """True when the broker keeps its log on disk (Apache Kafka), False for Tansu-in-memory."""
    return bool(os.environ.get(ENV_TEST_KAFKA))


@pytest.fixture(scope="session")
def pg_cluster():
    """A private PostgreSQL cluster ($PGPASSFILE set to its pgpass meanwhile)."""
    try:
        cluster = PgCluster.start()
    except PgUnavailable as exc:
        if os.environ.get("CI") == "true":
            pytest.fail(f"CI needs PostgreSQL: {exc}")
        pytest.skip(str(exc))
    old = os.environ.get("PGPASSFILE")
    os.environ["PGPASSFILE"] = str(cluster.pgpass)
    yield cluster
    if old is None:
        os.environ.pop("PGPASSFILE", None)
    else:
        os.environ["PGPASSFILE"] = old
    cluster.stop()


@pytest.fixture
def pg_database(pg_cluster, tmp_path) -> tuple[str, Path]:
    """(URL of a new, empty database, its --db-key-file)."""
    url = pg_cluster.create_database("t" + uuid.uuid4().hex[:12])
    key_file = tmp_path / "db.key"
    key_file.write_text(os.urandom(32).hex() + "\n")
    key_file.chmod(0o600)
    return url, key_file
