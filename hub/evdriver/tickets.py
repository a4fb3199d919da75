"""Which tickets this driver has shown, kept on disk so a restart shows none twice.

Central may forward a completion more than once (it re-sends one whose
forwarding it could not confirm) and Kafka redelivers uncommitted records, so
tickets are de-duplicated here by session_id. The state file is small JSON,
written atomically, holding the most recent session ids only.

One later ticket for a session is not a duplicate: when the driver was shown a
failed start (Central gave up waiting for the charge point, nothing billed) and the
charge point charged after all, Central bills that charge and sends its ticket.
It replaces the failed-start one (corrects), once: a failed start never replaces
a charge, so a replay of old records cannot flip the ticket back.

DriverLock makes one process per driver id the owner of its event stream:
the consumer group allows one reader at a time.
"""
from __future__ import annotations

import fcntl
import json
import os
import time
from pathlib import Path

from evdriver.errors import ConfigProblem

KEEP_SESSION_IDS = 1000
START_FAILED = "start_failed"  # evwire.types.REASON_START_FAILED


def default_state_dir() -> Path:
    base = os.environ.get("XDG_STATE_HOME") or str(Path.home() / ".local" / "state")
    return Path(base) / "evcharge"


def prepare_state_dir(state_dir: Path) -> Path:
    try:
        state_dir.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise ConfigProblem(f"cannot use state directory {state_dir}: {exc.strerror}") from exc
    if not os.access(state_dir, os.W_OK):
        raise ConfigProblem(f"cannot use state directory {state_dir}: not writable")
    return state_dir


class TicketBook:
    def __init__(self, state_dir: Path, driver_id: str):
        self.path = state_dir / f"driver-{driver_id}.json"
        self.driver_id = driver_id
        self.shown, self.failed_starts = self._load()

    def seen(self, session_id: str) -> bool:
        return session_id in self.shown

    def corrects(self, completion: dict) -> bool:
        """This completion replaces the failed-start ticket shown for its session."""
        return (completion["session_id"] in self.failed_starts
                and completion.get("reason") != START_FAILED
                and float(completion.get("energy_consumed_kwh") or 0) > 0)

    def is_news(self, completion: dict) -> bool:
        """Not shown yet, or a correction of what was shown."""
        return not self.seen(completion["session_id"]) or self.corrects(completion)

    def remember(self, session_id: str, reason: str = "") -> None:
        if reason == START_FAILED and session_id not in self.shown:
            self.failed_starts.append(session_id)
        elif reason != START_FAILED and session_id in self.failed_starts:
            self.failed_starts.remove(session_id)  # corrected: final now
        elif session_id in self.shown:
            return
        if session_id not in self.shown:
            self.shown.append(session_id)
        del self.shown[:-KEEP_SESSION_IDS]
        del self.failed_starts[:-KEEP_SESSION_IDS]
        self._save()

    def _load(self) -> tuple[list[str], list[str]]:
        try:
            data = json.loads(self.path.read_text())
        except FileNotFoundError:
            return [], []
        except (OSError, ValueError):
            # A damaged file must not stop the driver: at worst a ticket shows twice.
            return [], []
        if not isinstance(data, dict):
            return [], []
        return _ids(data.get("tickets_shown")), _ids(data.get("failed_starts_shown"))

    def _save(self) -> None:
        tmp = self.path.with_name(self.path.name + ".tmp")
        body = {"driver_id": self.driver_id, "tickets_shown": self.shown,
                "failed_starts_shown": self.failed_starts}
        with open(tmp, "w") as f:
            json.dump(body, f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, self.path)


def _ids(value: object) -> list[str]:
    return [s for s in value if isinstance(s, str)] if isinstance(value, list) else []


class DriverLock:
    """An advisory lock on state_dir/driver-ID.lock, released when the process ends."""

    def __init__(self, state_dir: Path, driver_id: str):
        self.path = state_dir / f"driver-{driver_id}.lock"
        self.fd: int | None = None

    def acquire(self, wait: float) -> bool:
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600)
        deadline = time.monotonic() + wait
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                if time.monotonic() >= deadline:
                    os.close(fd)
                    return False
                time.sleep(0.1)
                continue
            os.ftruncate(fd, 0)
            os.write(fd, str(os.getpid()).encode())
            self.fd = fd
            return True

    def holder(self) -> str:
        try:
            return self.path.read_text().strip() or "?"
        except OSError:
            return "?"

    def release(self) -> None:
        if self.fd is not None:
            os.close(self.fd)
            self.fd = None
