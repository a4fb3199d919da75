# Walk-up requests at the charge point: the card reader and the key menu ask
# through the Monitor; what the Engine knows by itself (no Monitor, busy,
# faulted) is refused at once; every answer is shown on the CP's display.
import io

from engine_fakes import FakeHardware, make_config, start_command

from evengine.chargepoint import ChargePoint
from evengine.handlers import ACCEPTS, EngineHandlers
from evengine.menu import KeyMenu
from evengine.store import StateStore
from evengine.walkup import ANSWER_TIMEOUT_MS, WalkUp
from evwire.dispatch import Dispatcher


class Monitor:
    """Takes what the Engine sends while `up`."""

    def __init__(self):
        self.up = True
        self.sent = []

    def send(self, msg):
        if self.up:
            self.sent.append(msg)
        return self.up


def _walkup(hw=None):
    config = make_config()
    hw = hw or FakeHardware()
    cp = ChargePoint(config, hw, StateStore(config["state_dir"]))
    cp.boot()
    cp.monitor_connected()
    cp.tick(0)
    monitor = Monitor()
    shown = []
    walkup = WalkUp(cp, monitor.send, shown.append)
    return walkup, cp, hw, monitor, shown


def _answer(request, status="success", message="charging authorised for D42", **fields):
    msg = {"type": "local_charge_response", "message_id": request["message_id"],
           "status": status, "message": message, "cp_id": "CP1"}
    msg.update(fields)
    return msg


def test_a_swiped_card_becomes_a_local_charge_request():
    walkup, cp, hw, monitor, shown = _walkup()
    hw.card_reader = ["04A1B2C3"]
    walkup.tick(1000)
    (request,) = monitor.sent
    assert request["type"] == "local_charge_request" and request["cp_id"] == "CP1"
    assert request["card_uid"] == "04A1B2C3" and "driver_id" not in request
    assert isinstance(request["timestamp"], int)
    assert "card 04A1B2C3: asking Central" in shown[-1]
    walkup.answered(_answer(request, driver_id="D42", session_id="S7"))
    assert shown[-1] == "card 04A1B2C3: authorised for D42, session S7: charging starts"
    assert walkup.pending is None


def test_a_refusal_is_shown_with_central_s_reason():
    walkup, cp, hw, monitor, shown = _walkup()
    assert walkup.request(0, driver_id="D9")
    (request,) = monitor.sent
    assert request["driver_id"] == "D9" and "card_uid" not in request
    walkup.answered(_answer(request, "failure", "unknown driver D9: not registered"))
    assert shown[-1] == "driver D9: refused: unknown driver D9: not registered"


def test_without_a_monitor_the_request_is_refused_at_once():
    walkup, cp, hw, monitor, shown = _walkup()
    cp.monitor_disconnected(0)
    hw.card_reader = ["CARD1"]
    walkup.tick(1000)
    assert monitor.sent == []
    assert shown[-1] == "card CARD1: refused: monitor unreachable"
    cp.monitor_connected()
    monitor.up = False  # the link broke just now: the send fails
    assert not walkup.request(2000, driver_id="D42")
    assert shown[-1] == "driver D42: refused: monitor unreachable"


def test_a_busy_or_faulted_charge_point_refuses_at_once():
    walkup, cp, hw, monitor, shown = _walkup()
    assert cp.start(start_command())[0]
    assert not walkup.request(0, card_uid="CARD1")
    assert shown[-1] == "card CARD1: refused: charge point busy (session S1)"
    walkup2, cp2, hw2, monitor2, shown2 = _walkup()
    cp2.faults.force(True)
    assert not walkup2.request(0, card_uid="CARD1")
    assert shown2[-1] == "card CARD1: refused: charge point out of order (simulated_fault)"
    assert monitor.sent == [] and monitor2.sent == []


def test_one_request_at_a_time_and_a_lost_answer_is_given_up():
    walkup, cp, hw, monitor, shown = _walkup()
    assert walkup.request(0, driver_id="D1")
    assert not walkup.request(10, driver_id="D2")
    assert shown[-1] == "driver D2: refused: still waiting for the answer for driver D1"
    walkup.tick(ANSWER_TIMEOUT_MS - 1)
    assert walkup.pending is not None
    walkup.tick(ANSWER_TIMEOUT_MS)
    assert walkup.pending is None and "driver D1: no answer from Central" in shown[-1]
    late = _answer(monitor.sent[0])
    walkup.answered(late)  # too late: ignored, nothing shown
    assert "no answer from Central" in shown[-1]
    assert walkup.request(ANSWER_TIMEOUT_MS + 1, driver_id="D2")


def test_monitor_lost_before_the_answer_is_shown():
    walkup, cp, hw, monitor, shown = _walkup()
    assert walkup.request(0, card_uid="CARD1")
    walkup.monitor_lost()
    assert walkup.pending is None
    assert shown[-1] == "card CARD1: monitor unreachable before the answer came: ask again"


def test_a_silent_card_reader_is_no_fault():
    walkup, cp, hw, monitor, shown = _walkup()
    hw.reader_silent = True
    for second in range(1, 6):
        cp.tick(second * 1000)
        walkup.tick(second * 1000)
    assert cp.health()["engine_status"] == "OK" and monitor.sent == []
    assert cp.watch.reader_problem is not None
    hw.reader_silent = False
    hw.card_reader = ["CARD2"]
    walkup.tick(7000)
    assert cp.watch.reader_problem is None and monitor.sent[0]["card_uid"] == "CARD2"


def test_answers_through_the_dispatcher():
    walkup, cp, hw, monitor, shown = _walkup()
    dispatcher = Dispatcher(EngineHandlers(cp, walkup), ACCEPTS)
    walkup.request(0, card_uid="CARD1")
    request = monitor.sent[0]
    assert dispatcher.handle(_answer(request, "failure", "unknown card CARD1")) is None
    assert shown[-1] == "card CARD1: refused: unknown card CARD1"
    wrong = _answer(request)
    wrong["cp_id"] = "CP9"
    reply = dispatcher.handle(wrong)
    assert reply["type"] == "error_response" and "CP9" in reply["error"]
    walkup.request(0, card_uid="CARD3")
    error = {"type": "error_response", "message_id": monitor.sent[1]["message_id"],
             "error": "local_charge_request is for charge point 'CP1', this Monitor is 'CPX'"}
    assert dispatcher.handle(error) is None
    assert shown[-1].startswith("card CARD3: refused: local_charge_request is for")


class _Keys:
    def __init__(self, text):
        self.data = io.BytesIO(text.encode())

    def read(self, n):
        return self.data.read(n)


def _menu(text, hw=None):
    walkup, cp, hw, monitor, shown = _walkup(hw)
    out = []
    menu = KeyMenu(cp, hw, None, out.append, walkup)
    menu.stream = _Keys(text)
    while menu.open:
        menu.service()
    return menu, monitor, out


def test_the_key_menu_asks_for_a_driver_or_a_card():
    menu, monitor, out = _menu("c D42\n")
    assert [m["driver_id"] for m in monitor.sent] == ["D42"]
    menu, monitor, out = _menu("r\n04A1B2C3\n")
    assert "card UID, then Enter:" in out
    assert [m["card_uid"] for m in monitor.sent] == ["04A1B2C3"]


def test_the_key_menu_cancels_an_empty_or_bad_id():
    menu, monitor, out = _menu("c\n\n")
    assert monitor.sent == [] and "menu: cancelled" in out
    menu, monitor, out = _menu("c D\x7f42\n")
    assert monitor.sent == [] and any("printable characters" in line for line in out)
