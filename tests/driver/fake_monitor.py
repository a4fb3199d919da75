"""A charge point's Monitor (with its Engine) played by one small process,
for driver tests against the real Central.

It authenticates and registers over TCP, heartbeats, answers Central's start
and stop commands with command_response, and produces charging_data and
charge_completion to cp-events (keyed by cp_id, carrying driver_id) as the
Engine's records are carried on by a Monitor.

    python fake_monitor.py --central HOST:PORT --kafka BOOTSTRAP --cp-id CP1
        [--car-kwh 0.6] [--step-kwh 0.05] [--tick 0.2] [--price 0.30]   (secret: $EVCHARGE_SECRET)
"""
from __future__ import annotations

import argparse
import os
import socket
import sys
import threading
import time

import evwire
from evkafka import names
from evkafka.broker import parse_hostport
from evkafka.client import make_producer
from evwire import make
from evwire import types as t
from evwire.auth import make_auth_request, sign_record
from evwire.compat import unix_time
from evwire.dispatch import Dispatcher
from evwire.trace import configure, log


class FakeMonitor:
    def __init__(self, args: argparse.Namespace):
        self.args = args
        self.sock = socket.create_connection(parse_hostport(args.central), timeout=10)
        self.sock.settimeout(None)
        self.send_lock = threading.Lock()
        self.decoder = evwire.FrameDecoder(1 << 16)
        self.producer = make_producer(args.kafka, client_id=f"fake-monitor-{args.cp_id}")
        self.session: dict | None = None
        self.stop_session = threading.Event()

    def send(self, msg: dict) -> None:
        with self.send_lock:
            self.sock.sendall(evwire.encode_frame(msg))

    def receive(self) -> list[dict]:
        data = self.sock.recv(65536)
        if not data:
            raise ConnectionError("Central closed the connection")
        return self.decoder.feed(data)

    def handshake(self) -> None:
        a = self.args
        for request in (make_auth_request(a.cp_id, a.secret),
                        make(t.REGISTER_REQUEST, cp_id=a.cp_id, timestamp=unix_time(),
                             max_charging_rate_kw=22.0, location=f"{a.cp_id} street")):
            self.send(request)
            answer = self.await_answer(request["message_id"])
            if answer.get("status") != t.SUCCESS:
                raise SystemExit(f"{request['type']} refused: {answer}")

    def await_answer(self, message_id: str) -> dict:
        while True:
            for msg in self.receive():
                if msg.get("message_id") == message_id:
                    return msg

    def heartbeat_forever(self) -> None:
        while True:
            session = self.session
            fields = {"session_id": session["session_id"]} if session else {}
            status = t.CP_CHARGING if session else t.CP_AVAILABLE
            self.send(make(t.HEARTBEAT_REQUEST, cp_id=self.args.cp_id, status=status,
                           timestamp=unix_time(), **fields))
            time.sleep(0.5)

    # -- commands from Central (one handler per type) --------------------------
    def start_charging_command(self, cmd: dict) -> None:
        self.session = cmd
        self.stop_session.clear()
        self.answer(cmd, cmd["session_id"])
        threading.Thread(target=self.charge, args=(cmd,), daemon=True).start()

    def stop_charging_command(self, cmd: dict) -> None:
        self.stop_session.set()
        self.answer(cmd, cmd["session_id"])

    def heartbeat_response(self, msg: dict) -> None:
        """Nothing to do: Central's view of this CP is not needed here."""

    def answer(self, cmd: dict, session_id: str) -> None:
        self.send(make(t.COMMAND_RESPONSE, cmd["message_id"], cp_id=self.args.cp_id,
                       command=cmd["type"], status=t.SUCCESS, message="ok",
                       session_id=session_id))

    # -- the Engine behind it ---------------------------------------------------
    def record(self, msg: dict) -> None:
        # Signed with the CP secret, as a Monitor does: Central drops unsigned records.
        self.producer.produce(names.cp_events(), key=self.args.cp_id.encode(),
                              value=evwire.dumps(sign_record(msg, self.args.secret)))
        self.producer.flush(10)

    def charge(self, cmd: dict) -> None:
        a = self.args
        price = cmd["price_per_kwh"]
        energy, reason, started = 0.0, t.REASON_EV_FULL, unix_time()
        while energy < a.car_kwh:
            if self.stop_session.wait(a.tick):
                reason = t.REASON_STOPPED
                break
            energy = min(a.car_kwh, energy + a.step_kwh)
            self.record(make(t.CHARGING_DATA, cp_id=a.cp_id, session_id=cmd["session_id"],
                             driver_id=cmd["driver_id"], energy_consumed_kwh=round(energy, 3),
                             total_cost=round(energy * price, 2), charging_rate=11.0,
                             timestamp=unix_time()))
        self.record(make(t.CHARGE_COMPLETION, cp_id=a.cp_id, session_id=cmd["session_id"],
                         driver_id=cmd["driver_id"], energy_consumed_kwh=round(energy, 3),
                         total_cost=round(energy * price, 2), reason=reason,
                         price_per_kwh=price, started_at=started, timestamp=unix_time(),
                         meter_start_kwh=100.0, meter_stop_kwh=round(100.0 + energy, 3)))
        self.session = None
        log("info", f"session {cmd['session_id']} finished: {reason}")


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--central", required=True)
    parser.add_argument("--kafka", required=True)
    parser.add_argument("--cp-id", required=True)
    parser.add_argument("--car-kwh", type=float, default=0.6)
    parser.add_argument("--step-kwh", type=float, default=0.05)
    parser.add_argument("--tick", type=float, default=0.2)
    args = parser.parse_args()
    args.secret = os.environ["EVCHARGE_SECRET"]  # as the real Monitor: never in argv
    configure(tier=f"fake-monitor-{args.cp_id}")
    monitor = FakeMonitor(args)
    monitor.handshake()
    threading.Thread(target=monitor.heartbeat_forever, daemon=True).start()
    dispatcher = Dispatcher(
        monitor, (t.START_CHARGING_COMMAND, t.STOP_CHARGING_COMMAND, t.HEARTBEAT_RESPONSE))
    print("ready", flush=True)
    while True:
        for msg in monitor.receive():
            dispatcher.handle(msg)


if __name__ == "__main__":
    sys.exit(main())
