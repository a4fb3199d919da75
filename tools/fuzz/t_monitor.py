"""The Monitor's two entry points: frames from the Engine and frames from Central,
each through the links' PayloadFrameDecoder and evmonitor.boundary.handle with
the real handlers, Station and SQLite outbox; the links' transports are fakes
capturing what the Monitor sends. boundary.handle must never raise, never
answer with an internal_error, and everything sent must be a valid message."""
from __future__ import annotations

import asyncio
import random
from pathlib import Path

import gen
from central_rig import check_reply, conversation
from fuzzlib import Finding, Run, Target

from evmonitor import boundary
from evmonitor.central_link import CentralLink
from evmonitor.config import MonitorConfig
from evmonitor.engine_link import EngineLink
from evmonitor.framed import PayloadFrameDecoder
from evmonitor.outbox import Outbox
from evmonitor.station import Station

FROM_ENGINE = ("health_check_response", "command_response", "charging_data",
               "charge_completion", "local_charge_request", "error_response")
FROM_CENTRAL = ("auth_response", "register_response", "heartbeat_response",
                "start_charging_command", "stop_charging_command", "stop_cp_command",
                "resume_cp_command", "local_charge_response", "error_response")


class CaptureLink:
    """The FramedLink a handler answers on."""

    def __init__(self, name: str):
        self.name = name
        self.closed = False
        self.sent: list[dict] = []

    def send(self, msg: dict) -> bool:
        self.sent.append(msg)
        if len(self.sent) > 1000:
            del self.sent[:500]
        return True

    def close(self) -> None:
        """Never closed by the fuzzer."""


def _generator(types: tuple[str, ...]):
    def generate(rng: random.Random) -> bytes:
        if rng.random() < 0.6:
            msgs: list[object] = ["peer"] + [gen.message(rng, rng.choice(types))
                                             for _ in range(rng.randint(1, 4))]
            try:
                return gen.dumps(msgs)
            except ValueError:
                return b"\x80"
        return gen.payload(rng, conversation=False)
    return generate


class MonitorRig:
    def __init__(self, workdir: Path):
        workdir.mkdir(parents=True, exist_ok=True)
        self.loop = asyncio.new_event_loop()  # Station and links create futures
        asyncio.set_event_loop(self.loop)
        cfg = MonitorConfig(cp_id="CP1", secret="cp1-secret-for-fuzzing",
                            engine="127.0.0.1:9", central="127.0.0.1:9",
                            outbox=str(workdir / "outbox.db")).validate()
        self.station = Station(cfg, Outbox(cfg.outbox, cfg.outbox_bound, cfg.thin_keep_every))
        self.engine = EngineLink(cfg, self.station)
        self.central = CentralLink(cfg, self.station)
        self.engine_side = CaptureLink("engine")
        self.central_side = CaptureLink("central")
        # Connected and registered, so that handlers act (and send) as in service.
        self.engine.link = self.engine_side  # type: ignore[assignment]
        self.central.link = self.central_side  # type: ignore[assignment]
        self.central.registered = True
        self.station.engine = self.engine
        self.station.central = self.central


def _setup_for(side: str):
    def setup(workdir: Path) -> Run:
        rig = MonitorRig(workdir)
        link = rig.engine_side if side == "engine" else rig.central_side
        dispatcher = rig.engine.dispatcher if side == "engine" else rig.central.dispatcher
        decoder = PayloadFrameDecoder()

        def run(data: bytes) -> None:
            _role, items = conversation(data)
            before_e, before_c = len(rig.engine_side.sent), len(rig.central_side.sent)
            for item in items:
                if isinstance(item, bytes):
                    frame = gen.raw_frame(item)
                else:
                    try:
                        frame = gen.raw_frame(gen.dumps(item))
                    except ValueError:
                        continue
                for msg in decoder.feed(frame):
                    boundary.handle(dispatcher, msg, link)
            rig.station.expire_commands()
            for reply in rig.engine_side.sent[before_e:] + rig.central_side.sent[before_c:]:
                check_reply(reply, items)
            if decoder.buffered > decoder.buffer_bound:
                raise Finding("the link decoder holds more than its bound")
        return run
    return setup


TARGETS = [
    Target("monitor.engine", _generator(FROM_ENGINE), _setup_for("engine"),
           "Monitor: Engine frames through boundary.handle (EngineLink's handlers)"),
    Target("monitor.central", _generator(FROM_CENTRAL), _setup_for("central"),
           "Monitor: Central frames through boundary.handle (CentralLink's handlers)"),
]
