"""Fixtures shared by tests/ and hw_tests/: processes, ports, Kafka."""
from __future__ import annotations

import os
import uuid

import pytest

from evcharge.harness.procs import ProcessGroup, free_port, micropython_binary, wait_port
from evkafka import names as kafka_names
from evkafka.broker import spawn

ENV_TEST_KAFKA = "EVCHARGE_TEST_KAFKA"


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
    """A unique topic/group namespace for this test (inherited by child processes)."""
    ns = "t" + uuid.uuid4().hex[:10] + "."
    monkeypatch.setenv(kafka_names.ENV_NAMESPACE, ns)
    return ns


@pytest.fixture
def broker_is_durable():
    """True when the broker keeps its log on disk (Apache Kafka), False for Tansu-in-memory."""
    return bool(os.environ.get(ENV_TEST_KAFKA))
