"""The Engine's link entry on CPython: bytes into the link's frame handling
(evengine.link._Framed._deliver, as TcpLink and SerialLink do) and on to
EngineApp.on_message / on_malformed, with the fake hardware of the Engine's
unit tests (tests/micropython/engine_fakes.py) and a link capturing sends.
No exception may leave the link entry (in the real loop it would cost the
whole poll step), and everything the Engine sends must be a valid message."""
from __future__ import annotations

import random
import sys
from pathlib import Path

import gen
from central_rig import check_reply, conversation
from fuzzlib import Finding, Run, Target

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "tests" / "micropython"))

from engine_fakes import FakeHardware, make_config  # noqa: E402

from evengine.app import EngineApp  # noqa: E402
from evengine.link import _Framed  # noqa: E402
from evwire import DEFAULT_MAX  # noqa: E402
from evwire.compat import ticks_ms  # noqa: E402

CONVERSATION_TYPES = ("health_check_request", "start_charging_command", "stop_charging_command",
                      "charge_completion_ack", "local_charge_response", "error_response")


class CaptureLink:
    """What EngineApp needs of its link: send() and a few no-op hooks."""

    def __init__(self) -> None:
        self.sent: list[dict] = []

    def send(self, msg: dict) -> bool:
        self.sent.append(msg)
        return True

    def connected(self) -> bool:
        return True

    def pollables(self) -> list:
        return []

    def close(self) -> None:
        """Nothing to close."""


def generate(rng: random.Random) -> bytes:
    if rng.random() < 0.5:
        msgs: list[object] = ["engine"] + [gen.message(rng, rng.choice(CONVERSATION_TYPES))
                                           for _ in range(rng.randint(1, 5))]
        try:
            return gen.dumps(msgs)
        except ValueError:
            return b"\x80"
    if rng.random() < 0.2:
        return gen.stream(rng)
    return gen.payload(rng, conversation=False)


def _setup(workdir: Path) -> Run:
    hw = FakeHardware()
    config = make_config(state_dir=str(workdir / "engine-state"))
    link = CaptureLink()
    app = EngineApp(config, hw, link=link)
    framed = _Framed(app, DEFAULT_MAX)
    count = [0]

    def run(data: bytes) -> None:
        _role, items = conversation(data)
        before = len(link.sent)
        for item in items:
            if isinstance(item, bytes):
                framed._deliver(gen.raw_frame(item) if item[:1] != b"\x00" else item)
                continue
            try:
                framed._deliver(gen.raw_frame(gen.dumps(item)))
            except ValueError:
                continue
        count[0] += 1
        if count[0] % 50 == 0:
            app.tick(ticks_ms())
        for reply in link.sent[before:]:
            check_reply(reply, items)
        if len(link.sent) > 1000:
            del link.sent[:]
        if framed.decoder.buffered > framed.decoder.buffer_bound:
            raise Finding("the link decoder holds more than its bound")
    return run


TARGETS = [
    Target("engine.link", generate, _setup,
           "Engine link entry: frames to EngineApp.on_message with fake hardware"),
]
