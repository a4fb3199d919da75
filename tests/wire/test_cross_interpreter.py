"""CPython and MicroPython speaking the wire to each other over real TCP, and
the MicroPython-side wire tests run from pytest (a real micropython process)."""
from __future__ import annotations

import socket
import threading

import evwire
from evharness.procs import ROOT, wait_until

MICROPYPATH = "shared:firmware:tests/micropython"


def _noise(mpv, n: int, seed: int) -> bytes:
    # Line noise without 0x00: each burst is then exactly one bad frame.
    return bytes(b or 0x5A for b in mpv.pseudo_random_bytes(n, seed))


def test_micropython_peer_echoes_every_vector_byte_for_byte(procs, micropython, mpv):
    vectors = mpv.load()
    stream = bytearray()
    noise_bursts = noise_bytes = 0
    for i, v in enumerate(vectors):
        if i % 3 == 0:
            burst = _noise(mpv, 5 + i, seed=i)
            stream += burst
            noise_bursts += 1
            noise_bytes += len(burst)
        stream += v["frame"]
    stream += evwire.encode_frame({"stop": True})

    with socket.create_server(("127.0.0.1", 0)) as server:
        server.settimeout(20)
        port = server.getsockname()[1]
        peer = procs.start(
            "mp-echo",
            [micropython, "-X", "heapsize=4M", "-c",
             f"import mp_vectors; mp_vectors.echo_frames('127.0.0.1', {port})"],
            env={"MICROPYPATH": MICROPYPATH}, cwd=ROOT)
        conn, _ = server.accept()

    def send_in_odd_chunks():
        sizes = [1, 7, 64, 300, 2, 1500]
        pos = count = 0
        while pos < len(stream):
            size = sizes[count % len(sizes)]
            conn.sendall(stream[pos:pos + size])
            pos += size
            count += 1

    sender = threading.Thread(target=send_in_odd_chunks, daemon=True)
    with conn:
        conn.settimeout(20)
        sender.start()
        received = bytearray()
        decoder = evwire.FrameDecoder()
        echoed = []
        while not echoed or "stop" not in echoed[-1]:
            data = conn.recv(4096)
            assert data, "micropython peer closed early:\n" + peer.log()
            received += data
            echoed += decoder.feed(data)
        sender.join(10)

    stop_reply = echoed.pop()
    assert received == b"".join(v["frame"] for v in vectors) + evwire.encode_frame(stop_reply)
    assert len(echoed) == len(vectors)
    for value, v in zip(echoed, vectors):
        assert mpv.same(value, v["value"]), v["name"]
    assert stop_reply == {"stop": True, "frames": len(vectors) + 1,
                          "dropped_frames": noise_bursts, "dropped_bytes": noise_bytes}
    wait_until(lambda: not peer.alive(), timeout=10, what="micropython peer exit")
    assert peer.popen.returncode == 0, peer.log()


def test_micropython_wire_suite_passes(procs, micropython):
    modules = sorted(p.stem for p in (ROOT / "tests" / "micropython").glob("test_wire_*.py"))
    runner = procs.start(
        "mp-tests",
        [micropython, "-X", "heapsize=2M", "tests/micropython/run.py", *modules],
        env={"MICROPYPATH": MICROPYPATH}, cwd=ROOT)
    wait_until(lambda: not runner.alive(), timeout=120, what="micropython test run")
    log = runner.log()
    assert runner.popen.returncode == 0, log
    last = log.strip().splitlines()[-1]
    assert last.startswith("micropython: ") and last.endswith(" passed, 0 failed"), log
    assert int(last.split()[1]) >= 60, log


def test_micropython_peer_refuses_each_bad_vector_naming_the_field(procs, micropython, mpv):
    # Refused vectors (NaN, infinities, bad ids, timestamps out of the window)
    # sent by CPython over TCP; the MicroPython peer answers each with the
    # error_response its boundary gives, and the good messages with "valid".
    vectors = [v for v in mpv.load() if v["kind"] in ("refused", "message")]
    with socket.create_server(("127.0.0.1", 0)) as server:
        server.settimeout(20)
        port = server.getsockname()[1]
        peer = procs.start(
            "mp-validate",
            [micropython, "-X", "heapsize=4M", "-c",
             f"import mp_vectors; mp_vectors.validate_frames('127.0.0.1', {port})"],
            env={"MICROPYPATH": MICROPYPATH}, cwd=ROOT)
        conn, _ = server.accept()
    with conn:
        conn.settimeout(20)
        decoder = evwire.FrameDecoder()
        for v in vectors:
            conn.sendall(v["frame"])
            replies: list = []
            while not replies:
                data = conn.recv(4096)
                assert data, "micropython peer closed early:\n" + peer.log()
                replies += decoder.feed(data)
            (reply,) = replies
            if v["kind"] == "message":
                assert reply == {"valid": True}, v["name"]
                continue
            assert reply["type"] == "error_response" and reply["code"] == "validation_error"
            assert reply["error"] == v["error"], v["name"]
            evwire.validate(reply)
        conn.sendall(evwire.encode_frame({"stop": True}))
    wait_until(lambda: not peer.alive(), timeout=10, what="micropython peer exit")
    assert peer.popen.returncode == 0, peer.log()
