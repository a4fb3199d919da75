"""The Engine's door for strangers: a connection held aside until it proves the
link key (evengine.link_guard.PendingPeer.feed), with a fake socket capturing
what the Engine answers. Beyond "never raises" and "answers only valid
messages", the oracle that matters: the verdict is True only after a link_auth
carrying the right MAC, which only the harness can compute (the input says
where with the text "RIGHT_MAC"); everything else ends refused or still
pending, never authenticated."""
from __future__ import annotations

import random
from pathlib import Path
from types import SimpleNamespace

import gen
from central_rig import check_reply, conversation
from fuzzlib import Finding, Run, Target

from evengine.link_guard import PendingPeer
from evwire import FrameDecoder, link_auth

KEY = "6c696e6b2d6b65792d666f722d66757a7a696e67"
RIGHT_MAC = "RIGHT_MAC"


class CaptureSocket:
    def __init__(self) -> None:
        self.data = bytearray()

    def sendall(self, data: bytes) -> None:
        self.data += data

    def close(self) -> None:
        """Nothing to close."""


def _hello(rng: random.Random) -> dict:
    msg = gen.message(rng, "link_hello")
    if rng.random() < 0.8:
        msg["cp_id"] = "CP1" if rng.random() < 0.9 else "CP2"
        msg["nonce"] = link_auth.new_nonce() if rng.random() < 0.9 else gen.nasty(rng)
    return msg


def generate(rng: random.Random) -> bytes:
    items: list[object] = ["stranger"]
    for _ in range(rng.randint(1, 4)):
        pick = rng.random()
        if pick < 0.35:
            items.append(_hello(rng))
        elif pick < 0.55:
            msg = gen.message(rng, "link_auth")
            if rng.random() < 0.5:
                msg["mac"] = rng.choice(("0" * 64, "", link_auth.new_nonce() * 2, "A" * 64))
            items.append(msg)
        elif pick < 0.7:
            items.append(RIGHT_MAC)
        elif pick < 0.85:
            items.append(gen.message(rng))
        else:
            items.append(rng.randbytes(rng.randint(0, 80)))
    try:
        return gen.dumps(items)
    except ValueError:
        return b"\x80"


def _setup(_workdir: Path) -> Run:
    def run(data: bytes) -> None:
        sock = CaptureSocket()
        # What PendingPeer reads of its TcpLink: the key, the CP and its pending slots.
        link = SimpleNamespace(pending=[], key=KEY, cp_id="CP1", auth_ms=5000)
        peer = PendingPeer(link, sock, None, "127.0.0.1:9")
        _role, items = conversation(data)
        proved = False
        for item in items:
            guard = peer.guard
            if item == RIGHT_MAC:
                if guard.engine_nonce is None:
                    continue
                item = {"type": "link_auth", "message_id": "m-right",
                        "mac": link_auth.monitor_mac(KEY, "CP1", guard.engine_nonce,
                                                     guard.monitor_nonce)}
                proved = True
            body = item if isinstance(item, bytes) else None
            if body is None:
                try:
                    body = gen.dumps(item)
                except ValueError:
                    continue
            verdict, _rest = peer.feed(gen.raw_frame(body))
            if verdict is True and not proved:
                raise Finding("a stranger was authenticated without the link key")
            if verdict is not None:
                break
        answers = FrameDecoder().feed(bytes(sock.data))
        for reply in answers:
            check_reply(reply, items)
    return run


TARGETS = [
    Target("engine.link_auth", generate, _setup,
           "Engine link handshake: a stranger's frames into PendingPeer.feed"),
]
