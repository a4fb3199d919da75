"""Central's TCP listener entry: a frame's payload through boundary.dispatch, on a
fresh channel or after a real authentication as a Monitor, a Driver or an
operator. Every input must end in no reply, a reply to a valid request, or an
error_response naming the problem; an internal_error reply (a handler bug
caught by the boundary) counts as a crash."""
from __future__ import annotations

from pathlib import Path

import gen
from central_rig import CentralRig, FakeChannel, check_reply, conversation
from fuzzlib import Finding, Run, Target

from evcentral.boundary import dispatch
from evwire import FrameDecoder


def _setup(workdir: Path) -> Run:
    rig = CentralRig(workdir)

    async def play(data: bytes) -> None:
        role, items = conversation(data)
        channel = FakeChannel()
        decoder = FrameDecoder()
        opening = rig.opening(role)
        if opening is not None:
            await dispatch(rig.router, opening, channel)
            if not channel.sent or channel.sent[-1].get("status") != "success":
                raise Finding(f"the rig could not authenticate as {role}: {channel.sent}")
        for item in items:
            # Through a real FrameDecoder, as Gateway._read_loop does.
            body = item if isinstance(item, bytes) else None
            if body is None:
                try:
                    body = gen.dumps(item)
                except ValueError:
                    continue
            for msg in decoder.feed(gen.raw_frame(body)):
                before = len(channel.sent)
                await dispatch(rig.router, rig.prepare(msg, role), channel)
                for reply in channel.sent[before:]:
                    check_reply(reply, msg)
        rig.registry.detach(channel)

    def run(data: bytes) -> None:
        rig.run(play(data))
    return run


TARGETS = [
    Target("central.tcp", gen.payload, _setup,
           "boundary.dispatch behind the Router, real handlers and database"),
]
