"""The fuzz loop: generate an input, run the target on it, time it, keep what broke.

A target is a name, a generator (random.Random -> bytes) and a setup
(workdir -> run(data)). run() returns quietly for an input that was handled or
refused the way the protocol says; any exception out of it is a crash, the
input saved under build/fuzz/crashes/ with its traceback next to it. An input
that takes more than the hang limit (1 s) of CPU time, or ten times that of
wall-clock time, is a hang: SIGPROF or SIGALRM interrupts it with Hang (a
BaseException, so no `except Exception` in the code under test can swallow it),
the input is saved, and the target is set up afresh.
"""
from __future__ import annotations

import hashlib
import random
import shutil
import signal
import tempfile
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

MAX_SAVED = 20  # distinct findings saved per target and run: the rest are counted
WALL_FACTOR = 10  # an input blocked this many hang limits of wall-clock time is a hang too


class Finding(Exception):
    """The target handled the input but broke a promise (e.g. a reply that is not an
    error_response, a buffer above its bound); str(e) says which."""


class Hang(BaseException):
    """Raised by the hang alarm inside the code under test."""


Run = Callable[[bytes], None]


@dataclass
class Target:
    name: str
    generate: Callable[[random.Random], bytes]
    setup: Callable[[Path], Run]
    about: str = ""


@dataclass
class Result:
    target: str
    runs: int = 0
    seconds: float = 0.0
    crashes: int = 0
    hangs: int = 0
    slowest_ms: float = 0.0
    saved: list[str] = field(default_factory=list)

    @property
    def per_second(self) -> float:
        return self.runs / self.seconds if self.seconds else 0.0

    def as_dict(self) -> dict:
        return {"target": self.target, "runs": self.runs, "seconds": round(self.seconds, 2),
                "inputs_per_s": round(self.per_second), "crashes": self.crashes,
                "hangs": self.hangs, "slowest_ms": round(self.slowest_ms, 1),
                "saved": self.saved}


def _alarm(_signum: int, _frame: object) -> None:
    raise Hang()


def save(out_dir: Path, target: str, kind: str, data: bytes, text: str) -> Path:
    """Keep an input that broke something, and why, for `run.py --reproduce`."""
    out_dir.mkdir(parents=True, exist_ok=True)
    digest = hashlib.sha1(data).hexdigest()[:16]
    path = out_dir / f"{target}-{kind}-{digest}.bin"
    path.write_bytes(data)
    path.with_suffix(".txt").write_text(text)
    return path


def signature(exc: BaseException) -> str:
    """Findings with the same exception type raised at the same line are one finding."""
    frames = traceback.extract_tb(exc.__traceback__)
    where = f"{frames[-1].filename}:{frames[-1].lineno}" if frames else "?"
    return f"{type(exc).__name__}@{where}"


def fuzz(target: Target, runs: int, seed: int, out_dir: Path, hang_s: float = 1.0,
         log: Callable[[str], None] = print) -> Result:
    result = Result(target.name)
    rng = random.Random(seed)
    workdir = Path(tempfile.mkdtemp(prefix=f"evfuzz-{target.name}-"))
    seen: set[str] = set()
    # Someone else's alarm (pytest-timeout's) is put back, less the time spent here.
    outer_alarm = signal.getitimer(signal.ITIMER_REAL)[0]
    entered = time.monotonic()
    previous = signal.signal(signal.SIGALRM, _alarm)
    previous_prof = signal.signal(signal.SIGPROF, _alarm)
    try:
        run = target.setup(workdir)
        started = time.perf_counter()
        for _ in range(runs):
            data = target.generate(rng)
            t0, cpu0 = time.perf_counter(), time.process_time()
            # CPU time decides (a loaded machine stalls a process without it hanging);
            # the wall-clock alarm catches an input that waits forever without computing.
            signal.setitimer(signal.ITIMER_PROF, hang_s)
            signal.setitimer(signal.ITIMER_REAL, hang_s * WALL_FACTOR)
            try:
                run(data)
                kind = None
            except Hang as exc:
                kind, failure = "hang", exc
            except Exception as exc:  # a crash: the finding this tool exists for
                kind, failure = "crash", exc
            finally:
                signal.setitimer(signal.ITIMER_PROF, 0)
                signal.setitimer(signal.ITIMER_REAL, 0)
            took = time.perf_counter() - t0
            cpu = time.process_time() - cpu0
            result.runs += 1
            result.slowest_ms = max(result.slowest_ms, took * 1000)
            if kind is None and cpu > hang_s:
                kind, failure = "hang", Hang(f"took {cpu:.2f} s of CPU")
            if kind is None:
                continue
            if kind == "crash":
                result.crashes += 1
            else:
                result.hangs += 1
            sig = f"{kind}:{signature(failure)}"
            if sig not in seen and len(seen) < MAX_SAVED:
                seen.add(sig)
                text = "".join(traceback.format_exception(failure))
                path = save(out_dir, target.name, kind, data, text)
                result.saved.append(str(path))
                log(f"{target.name}: {kind} {type(failure).__name__}: {failure} -> {path}")
            if kind == "hang":  # the interrupted state may be inconsistent: start afresh
                run = target.setup(workdir / f"again-{result.runs}")
        result.seconds = time.perf_counter() - started
    finally:
        signal.signal(signal.SIGALRM, previous)
        signal.signal(signal.SIGPROF, previous_prof)
        if outer_alarm:
            left = outer_alarm - (time.monotonic() - entered)
            signal.setitimer(signal.ITIMER_REAL, max(left, 0.001))
        shutil.rmtree(workdir, ignore_errors=True)
    return result


def reproduce(target: Target, data: bytes) -> str:
    """Run one saved input; return the traceback, or '' when it now passes."""
    workdir = Path(tempfile.mkdtemp(prefix=f"evfuzz-{target.name}-"))
    try:
        target.setup(workdir)(data)
        return ""
    except Exception as exc:
        return "".join(traceback.format_exception(exc))
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
