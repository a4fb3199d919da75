"""A small stand-in for Central (and the charge points behind it) for driver tests.

Run as its own process: it answers driver requests on a real TCP socket and
on the real broker's driver-requests topic, and "charges" accepted sessions by
producing charging_data / charging_status_update / charge_completion records
to driver-events keyed by the driver id, as Central forwards an Engine's.

    python fake_central.py --listen HOST:PORT --kafka BOOTSTRAP --cps CP1,CP2
        [--busy CP9] [--fault CP3] [--fault-ticket-after S] [--fail-start CP4]
        [--wait-for-car S] [--car-kwh 0.6] [--step-kwh 0.05] [--tick 0.2]
        [--no-socket | --silent-socket]

--silent-socket: the socket accepts connections and never answers (a silent
peer, after which the driver goes by Kafka); --no-socket: nothing listens.
"""
from __future__ import annotations

import argparse
import socket
import sys
import threading
import time

import evwire
from evkafka import names
from evkafka.broker import parse_hostport
from evkafka.client import AssignedConsumer, ensure_topics, make_producer
from evwire import failure, make, success
from evwire import types as t
from evwire.auth import auth_mac, record_verifies
from evwire.dispatch import Dispatcher
from evwire.trace import configure, log

DRIVER_REQUESTS = (t.CHARGE_REQUEST, t.STOP_CHARGING_REQUEST, t.AVAILABLE_CPS_REQUEST,
                   t.SESSION_HISTORY_REQUEST)


def secret_of(driver_id: str) -> str:
    return f"secret-{driver_id}"  # as driver_testkit.driver_secret: every test driver's
FULL_BATTERY_KWH = 50.0  # the seed's assumption for the progress percentage


class Session:
    def __init__(self, session_id: str, cp_id: str, driver_id: str):
        self.session_id = session_id
        self.cp_id = cp_id
        self.driver_id = driver_id
        self.status = "starting"
        self.energy = 0.0
        self.cost = 0.0
        self.reason: str | None = None
        self.started_at = int(time.time())
        self.stop = threading.Event()

    def row(self) -> dict:
        return {"session_id": self.session_id, "cp_id": self.cp_id, "status": self.status,
                "energy_consumed_kwh": round(self.energy, 3), "total_cost": round(self.cost, 2),
                "reason": self.reason, "started_at": self.started_at}


class FakeCentral:
    def __init__(self, args: argparse.Namespace):
        self.args = args
        self.cps = {cp: "AVAILABLE" for cp in args.cps.split(",") if cp}
        for cp in filter(None, args.busy.split(",")):
            self.cps[cp] = "CHARGING"
        self.sessions: dict[str, Session] = {}
        self.lock = threading.Lock()
        self.producer = make_producer(args.kafka, client_id="fake-central")

    # -- driver requests (one handler per type) -----------------------------
    def auth_request(self, msg: dict) -> dict:
        """As Central: the driver's MAC with its secret (the socket only)."""
        driver_id = msg.get("driver_id") or ""
        if msg.get("mac") != auth_mac(secret_of(driver_id), driver_id, msg["timestamp"],
                                      msg["nonce"]):
            return failure(msg, "authentication failed: unknown id or wrong secret",
                           reason="bad_credentials")
        return success(msg, message=f"authenticated as driver {driver_id}")

    def charge_request(self, msg: dict) -> dict:
        cp, driver = msg["cp_id"], msg["driver_id"]
        with self.lock:
            if cp not in self.cps:
                return failure(msg, f"unknown charge point {cp}", cp_id=cp, session_id=None,
                               reason="unknown_cp")
            if self.cps[cp] != "AVAILABLE":
                return failure(msg, f"charge point {cp} is busy", cp_id=cp, session_id=None,
                               reason="busy")
            if any(s.driver_id == driver and s.status in ("starting", "active")
                   for s in self.sessions.values()):
                return failure(msg, f"driver {driver} is already charging", cp_id=cp,
                               session_id=None, reason="driver_busy")
            session = Session(evwire.new_message_id(), cp, driver)
            self.sessions[session.session_id] = session
            self.cps[cp] = "CHARGING"
        threading.Thread(target=self.charge, args=(session,), daemon=True).start()
        return success(msg, message="charging authorised", cp_id=cp,
                       session_id=session.session_id, price_per_kwh=self.args.price)

    def stop_charging_request(self, msg: dict) -> dict:
        session = self.sessions.get(msg["session_id"])
        if session is None or session.driver_id != msg.get("driver_id"):
            return failure(msg, "no such session of yours", t.STOP_CHARGING_RESPONSE,
                           session_id=msg["session_id"])
        if session.status not in ("starting", "active"):
            return failure(msg, "the session is not running", t.STOP_CHARGING_RESPONSE,
                           session_id=msg["session_id"])
        session.stop.set()
        return success(msg, t.STOP_CHARGING_RESPONSE, message="stopping",
                       session_id=session.session_id)

    def available_cps_request(self, msg: dict) -> dict:
        cps = [{"cp_id": cp, "location": f"Street {i}", "status": status,
                "price_per_kwh": self.args.price, "max_charging_rate_kw": 22.0}
               for i, (cp, status) in enumerate(sorted(self.cps.items()), 1)]
        return success(msg, t.AVAILABLE_CPS_RESPONSE, charging_points=cps)

    def session_history_request(self, msg: dict) -> dict:
        rows = [s.row() for s in self.sessions.values() if s.driver_id == msg["driver_id"]]
        return success(msg, t.SESSION_HISTORY_RESPONSE, sessions=rows[-msg.get("limit", 100):])

    # -- the charge point behind Central ------------------------------------
    def emit(self, session: Session, msg: dict) -> None:
        msg["driver_id"] = session.driver_id
        self.producer.produce(names.driver_events(), key=session.driver_id.encode(),
                              value=evwire.dumps(msg))
        self.producer.flush(10)

    def charge(self, session: Session) -> None:
        a = self.args
        if session.cp_id in a.fail_start.split(","):
            self.fail_start(session)
            return
        if a.wait_for_car:  # authorised first, the car plugged in later
            self.emit(session, make(t.CHARGING_STATUS_UPDATE, cp_id=session.cp_id,
                                    session_id=session.session_id,
                                    status="waiting_for_vehicle", progress=0))
            time.sleep(a.wait_for_car)
        plugged_at = time.time()
        session.status = "active"
        reason = t.REASON_EV_FULL
        faulted = False
        while True:
            if session.stop.wait(a.tick):
                reason = t.REASON_STOPPED
                break
            session.energy = min(a.car_kwh, session.energy + a.step_kwh)
            session.cost = session.energy * a.price
            self.emit(session, make(t.CHARGING_DATA, cp_id=session.cp_id,
                                    session_id=session.session_id,
                                    energy_consumed_kwh=round(session.energy, 3),
                                    total_cost=round(session.cost, 2), charging_rate=11.0,
                                    timestamp=int(time.time())))
            self.emit(session, make(t.CHARGING_STATUS_UPDATE, cp_id=session.cp_id,
                                    session_id=session.session_id, status="charging",
                                    progress=int(session.energy * 100 / FULL_BATTERY_KWH)))
            if session.cp_id in a.fault.split(",") and not faulted and \
                    session.energy >= a.car_kwh / 2:
                faulted = True
                session.status = "interrupted"
                self.emit(session, make(t.CHARGING_STATUS_UPDATE, cp_id=session.cp_id,
                                        session_id=session.session_id, status="faulted",
                                        progress=0, message="engine unreachable"))
                time.sleep(a.fault_ticket_after)  # the Engine recovers, then sends its ticket
                reason = t.REASON_FAULT
                break
            if session.energy >= a.car_kwh:
                break
        session.status, session.reason = "finished", reason
        with self.lock:
            self.cps[session.cp_id] = "AVAILABLE"
        self.emit(session, make(t.CHARGE_COMPLETION, cp_id=session.cp_id,
                                session_id=session.session_id,
                                energy_consumed_kwh=round(session.energy, 3),
                                total_cost=round(session.cost, 2), reason=reason,
                                price_per_kwh=a.price, started_at=session.started_at,
                                # as the Engine: charging time, counted from plug-in
                                duration_s=round(time.time() - plugged_at, 1),
                                timestamp=int(time.time())))
        log("info", f"session {session.session_id} finished: {reason}")


    def fail_start(self, session: Session) -> None:
        """As Central does when the Monitor answers the start command with a failure."""
        session.status, session.reason = "failed", t.REASON_START_FAILED
        with self.lock:
            self.cps[session.cp_id] = "AVAILABLE"
        self.emit(session, make(t.CHARGING_STATUS_UPDATE, cp_id=session.cp_id,
                                session_id=session.session_id, status="failed", progress=0,
                                message="relay did not close"))
        self.emit(session, make(t.CHARGE_COMPLETION, cp_id=session.cp_id,
                                session_id=session.session_id, energy_consumed_kwh=0.0,
                                total_cost=0.0, reason=t.REASON_START_FAILED,
                                timestamp=int(time.time())))


def serve_socket(central: FakeCentral, dispatcher: Dispatcher, listener: socket.socket) -> None:
    while True:
        conn, _addr = listener.accept()
        threading.Thread(target=serve_connection, args=(dispatcher, conn), daemon=True).start()


def serve_silently(listener: socket.socket) -> None:
    """Accept, read, never answer: what a hung Central looks like to the driver."""
    held = []
    while True:
        conn, _addr = listener.accept()
        held.append(conn)  # kept open: closing would tell the driver at once


def serve_connection(dispatcher: Dispatcher, conn: socket.socket) -> None:
    decoder = evwire.FrameDecoder()
    with conn:
        while data := conn.recv(65536):
            for msg in decoder.feed(data):
                reply = dispatcher.handle(msg)
                if reply is not None:
                    conn.sendall(evwire.encode_frame(reply))


def serve_kafka(central: FakeCentral, dispatcher: Dispatcher) -> None:
    consumer = AssignedConsumer(central.args.kafka, names.central_group(),
                                [names.driver_requests()])
    while True:
        record = consumer.poll(0.2)
        if record is None:
            continue
        request = evwire.loads(record.value())
        if not record_verifies(request, secret_of(str(request.get("driver_id")))):
            log("warning", f"unsigned or wrongly signed request dropped: {request.get('type')}")
            consumer.commit(record)
            continue
        reply = dispatcher.handle(request)
        if reply is not None:
            central.producer.produce(names.driver_events(), key=record.key(),
                                     value=evwire.dumps(reply))
            central.producer.flush(10)
        consumer.commit(record)


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--listen", required=True)
    parser.add_argument("--kafka", required=True)
    parser.add_argument("--cps", default="CP1,CP2,CP3")
    parser.add_argument("--busy", default="")
    parser.add_argument("--fault", default="")
    parser.add_argument("--fail-start", default="")
    parser.add_argument("--no-socket", action="store_true")
    parser.add_argument("--silent-socket", action="store_true")
    parser.add_argument("--fault-ticket-after", type=float, default=1.0)
    parser.add_argument("--wait-for-car", type=float, default=0.0)
    parser.add_argument("--car-kwh", type=float, default=0.6)
    parser.add_argument("--step-kwh", type=float, default=0.05)
    parser.add_argument("--tick", type=float, default=0.2)
    parser.add_argument("--price", type=float, default=0.30)
    args = parser.parse_args()
    configure(tier="fake-central", level="debug")  # trace lines: tests read what it handled
    ensure_topics(args.kafka, names.all_topics())
    central = FakeCentral(args)
    dispatcher = Dispatcher(central, DRIVER_REQUESTS)
    threading.Thread(target=serve_kafka, args=(central, dispatcher), daemon=True).start()
    if args.silent_socket:
        listener = socket.create_server(parse_hostport(args.listen))
        threading.Thread(target=serve_silently, args=(listener,), daemon=True).start()
    elif not args.no_socket:
        listener = socket.create_server(parse_hostport(args.listen))
        on_socket = Dispatcher(central, (t.AUTH_REQUEST, *DRIVER_REQUESTS))
        threading.Thread(target=serve_socket, args=(central, on_socket, listener),
                         daemon=True).start()
    print("ready", flush=True)
    while True:
        time.sleep(3600)


if __name__ == "__main__":
    sys.exit(main())
