"""The Monitor's side of the Engine link handshake (EngineLink._authenticate)
against an Engine that answers whatever the input says, through the link's
PayloadFrameDecoder. The handshake may only end in success or LinkAuthError,
and it may succeed only after the harness's own right link_challenge (the input
says where with "RIGHT_CHALLENGE"): an impostor Engine is never accepted."""
from __future__ import annotations

import random
from collections.abc import AsyncIterator
from pathlib import Path

import gen
from central_rig import conversation
from fuzzlib import Finding, Run, Target
from t_monitor import CaptureLink, MonitorRig

from evmonitor.engine_link import LinkAuthError
from evmonitor.framed import PayloadFrameDecoder, WireMessage
from evwire import link_auth, make

KEY = "6d6f6e69746f722d6c696e6b2d6b6579"
RIGHT = "RIGHT_CHALLENGE"


def generate(rng: random.Random) -> bytes:
    items: list[object] = ["engine"]
    for _ in range(rng.randint(1, 3)):
        pick = rng.random()
        if pick < 0.3:
            items.append(RIGHT)
        elif pick < 0.5:
            msg = gen.message(rng, "link_challenge")
            if rng.random() < 0.6:
                msg["nonce"] = link_auth.new_nonce()
                msg["mac"] = rng.choice(("0" * 64, link_auth.new_nonce() * 2, ""))
            items.append(msg)
        elif pick < 0.75:
            msg = gen.message(rng, "link_auth_response")
            if rng.random() < 0.5:
                msg["status"] = "success"
            items.append(msg)
        elif pick < 0.9:
            items.append(gen.message(rng))
        else:
            items.append(rng.randbytes(rng.randint(0, 40)))
    try:
        return gen.dumps(items)
    except ValueError:
        return b"\x80"


def _setup(workdir: Path) -> Run:
    rig = MonitorRig(workdir)
    rig.engine.cfg.engine_key = KEY

    def run(data: bytes) -> None:
        _role, items = conversation(data)
        link = CaptureLink("engine")
        accepted: list[bool] = []  # a right challenge was answered

        async def answers() -> AsyncIterator[WireMessage]:
            decoder = PayloadFrameDecoder()
            for item in items:
                if item == RIGHT:
                    hello = link.sent[-1] if link.sent else {}
                    engine_nonce = link_auth.new_nonce()
                    item = make("link_challenge", hello.get("message_id"), nonce=engine_nonce,
                                cp_id="CP1", mac=link_auth.engine_mac(
                                    KEY, "CP1", hello.get("nonce", ""), engine_nonce))
                    accepted.append(True)
                body = item if isinstance(item, bytes) else None
                if body is None:
                    try:
                        body = gen.dumps(item)
                    except ValueError:
                        continue
                for msg in decoder.feed(gen.raw_frame(body)):
                    yield msg

        try:
            rig.loop.run_until_complete(rig.engine._authenticate(link, answers()))
        except LinkAuthError:
            return
        if not accepted:
            raise Finding("the Monitor accepted an Engine that does not hold the link key")
    return run


TARGETS = [
    Target("monitor.link_auth", generate, _setup,
           "Monitor's link handshake against an Engine answering anything"),
]
