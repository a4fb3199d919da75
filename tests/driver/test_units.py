"""The driver's pure parts: ticket book, services file, answers, rendering, options."""
from __future__ import annotations

import io
import json

import pytest

from evdriver.answers import check_answer
from evdriver.cli import build_parser
from evdriver.errors import ConfigProblem, Refused, RequestFailed
from evdriver.model import Progress, Ticket, target_percent
from evdriver.render import JsonOutput, TextOutput, clock, table
from evdriver.services import read_services
from evdriver.tickets import KEEP_SESSION_IDS, DriverLock, TicketBook
from evwire import make
from evwire import types as t


def test_ticket_book_remembers_across_instances(tmp_path):
    book = TicketBook(tmp_path, "D1")
    assert not book.seen("s1")
    book.remember("s1")
    assert TicketBook(tmp_path, "D1").seen("s1")
    assert not TicketBook(tmp_path, "D2").seen("s1")


def test_ticket_book_is_bounded(tmp_path):
    book = TicketBook(tmp_path, "D1")
    for i in range(KEEP_SESSION_IDS + 5):
        book.shown.append(f"s{i}")
    book.remember("last")
    again = TicketBook(tmp_path, "D1")
    assert len(again.shown) == KEEP_SESSION_IDS and again.seen("last") and not again.seen("s0")


@pytest.mark.parametrize("content", ["{not json", "[1, 2]", '{"tickets_shown": "s1"}'])
def test_damaged_ticket_book_starts_empty(tmp_path, content):
    (tmp_path / "driver-D1.json").write_text(content)
    book = TicketBook(tmp_path, "D1")
    assert book.shown == []
    book.remember("s1")
    assert json.loads((tmp_path / "driver-D1.json").read_text())["tickets_shown"] == ["s1"]


def test_driver_lock_admits_one_holder(tmp_path):
    first, second = DriverLock(tmp_path, "D1"), DriverLock(tmp_path, "D1")
    assert first.acquire(0)
    assert not second.acquire(0.2)
    first.release()
    assert second.acquire(0)
    second.release()


def test_services_file_ignores_blanks_and_comments(tmp_path):
    path = tmp_path / "s.txt"
    path.write_text("# header\n\nCP1\n  CP2   # trailing comment\n\t\nCP-3.b\n")
    assert read_services(path) == ["CP1", "CP2", "CP-3.b"]


def test_services_file_that_is_not_text(tmp_path):
    path = tmp_path / "s.bin"
    path.write_bytes(b"\xff\xfe\x00CP1")
    with pytest.raises(ConfigProblem, match="is not text"):
        read_services(path)


def _request() -> dict:
    return make(t.STOP_CHARGING_REQUEST, cp_id="CP1", session_id="s1", timestamp=1700000000)


def test_check_answer_accepts_success():
    req = _request()
    answer = make(t.STOP_CHARGING_RESPONSE, req["message_id"], status=t.SUCCESS, message="ok")
    assert check_answer(answer, t.STOP_CHARGING_RESPONSE) is answer


@pytest.mark.parametrize("answer, text", [
    ({"type": t.STOP_CHARGING_RESPONSE, "message_id": "m", "status": t.FAILURE,
      "message": "the session is not running"}, "the session is not running"),
    ({"type": t.ERROR_RESPONSE, "message_id": "m", "error": "stop_charging_request: "
      "missing field 'cp_id'"}, "missing field 'cp_id'"),
    ({"type": t.STOP_CHARGING_RESPONSE, "message_id": "m", "status": t.SUCCESS},
     "Central sent an invalid answer (stop_charging_response: missing field 'message')"),
    ({"type": t.AVAILABLE_CPS_RESPONSE, "message_id": "m", "charging_points": []},
     "Central answered available_cps_response instead of stop_charging_response"),
])
def test_check_answer_names_the_problem(answer, text):
    pattern = text.replace("(", r"\(").replace(")", r"\)")
    with pytest.raises((Refused, RequestFailed), match=pattern):
        check_answer(answer, t.STOP_CHARGING_RESPONSE)


def test_ticket_duration_is_charging_time():
    base = {"cp_id": "CP1", "session_id": "s", "energy_consumed_kwh": 1.5, "total_cost": 0.45}
    # The Engine's (from plug-in), else what the driver saw charge, else Central's clock.
    assert Ticket.from_completion({**base, "duration_s": 90}, 5).duration_s == 90
    assert Ticket.from_completion({**base, "started_at": 100, "timestamp": 160}, 5) \
        .duration_s == 5
    assert Ticket.from_completion({**base, "started_at": 100, "timestamp": 160}) \
        .duration_s == 60
    # Never charged (no car in time, waiting when stopped): no duration at all.
    none = {**base, "energy_consumed_kwh": 0.0, "total_cost": 0.0, "duration_s": 20}
    assert Ticket.from_completion({**none, "reason": t.REASON_NO_VEHICLE}).duration_s is None
    assert Ticket.from_completion({**none, "meter_stop_kwh": None}).duration_s is None


def test_progress_percent_is_of_the_drivers_target_only():
    assert target_percent(0.15, 9, kwh=0.2, minutes=None) == 75
    assert target_percent(3.0, 30, kwh=None, minutes=2) == 25
    assert target_percent(9.0, 999, kwh=2, minutes=None) == 100
    assert target_percent(30.0, 60, kwh=None, minutes=None) is None  # no target, no %


def test_a_status_update_shows_its_state_at_once():
    """The view after an update shows the state after it (not one tick behind)."""
    from types import SimpleNamespace

    from evdriver.session import Limits, SessionFollower

    shown: list[Progress] = []
    output = SimpleNamespace(progress=shown.append, status=lambda *a: None)
    ctx = SimpleNamespace(stream=object(), client=object(), output=output)
    follower = SessionFollower(ctx, "CP1", "s1", Limits(kwh=1.0))
    follower.charging_data({"session_id": "s1", "energy_consumed_kwh": 0.5,
                            "charging_rate": 11.0, "total_cost": 0.15})
    follower.charging_status_update({"session_id": "s1", "status": "charging",
                                     "progress": 1, "limit_kw": 0.0})
    assert [(p.limit_kw, p.progress) for p in shown] == [(None, 50), (0.0, 50)]
    follower.charging_data({"session_id": "s1", "energy_consumed_kwh": 0.6, "limit_kw": 7.0,
                            "charging_rate": 7.0, "total_cost": 0.18})
    assert (shown[-1].limit_kw, shown[-1].progress) == (7.0, 60)  # the sample's own


def test_a_cp_out_of_contact_is_said_with_centrals_words_and_so_is_its_return():
    from types import SimpleNamespace

    from evdriver.session import Limits, SessionFollower

    said: list[tuple[str, str]] = []
    output = SimpleNamespace(progress=lambda p: None,
                             status=lambda event, _cp, _s, text: said.append((event, text)))
    ctx = SimpleNamespace(stream=object(), client=object(), output=output)
    follower = SessionFollower(ctx, "CP1", "s1", Limits())
    text = "the charge point's Monitor lost contact with Central: ...; its ticket follows"
    update = {"session_id": "s1", "status": "cp_unreachable", "message": text}
    follower.charging_status_update(update)
    follower.charging_status_update(update)  # the same state again: said once
    follower.charging_status_update({"session_id": "s1", "status": "charging"})
    assert said == [("cp_unreachable", text),
                    ("cp_reachable", "the charge point is in contact with Central again")]


def test_text_rendering():
    assert clock(3725) == "01:02:05" and clock(None) == "-"
    assert table(["A", "BB"], [["x", "1"], ["yyy", "22"]], right={1}).splitlines() == [
        "A    BB", "---  --", "x     1", "yyy  22"]
    out = io.StringIO()
    TextOutput(out).ticket(Ticket("s1", "CP1", 1.25, 0.37, 61, "ev_full", 0.3))
    text = out.getvalue()
    assert "energy        1.250 kWh" in text
    assert "cost          0.37 EUR (0.30 EUR/kWh)" in text
    assert "duration      00:01:01" in text and "reason        the car is full" in text


def test_json_rendering_is_one_object_per_line():
    out = io.StringIO()
    output = JsonOutput(out, io.StringIO())
    output.notice("hello")
    output.ticket(Ticket("s1", "CP1", 1.0, 0.3, 10, "stopped"), away=True)
    output.error("gone", 3)
    lines = [json.loads(line) for line in out.getvalue().splitlines()]
    assert lines[0] == {"event": "notice", "text": "hello"}
    assert lines[1]["event"] == "ticket" and lines[1]["while_away"] is True
    assert lines[2] == {"result": "error", "exit_code": 3, "message": "gone"}


def test_default_pause_between_services_is_four_seconds():
    args = build_parser().parse_args(["--id", "D1", "--central", "h:1", "run", "f"])
    assert args.pause == 4.0


def test_secret_files_must_be_private_non_empty_text(tmp_path):
    from evdriver.socket_link import Credentials
    from evhost.secretfile import SecretFileError, read_secret_file, write_secret_file

    path = write_secret_file(tmp_path / "s", "  s3cret-value \n")
    assert oct(path.stat().st_mode & 0o777) == "0o600"
    assert read_secret_file(path) == "s3cret-value"
    path.chmod(0o640)
    with pytest.raises(SecretFileError, match="chmod 600"):
        read_secret_file(path)
    for content, complaint in ((b"\n", "is empty"), (b"\xff\xfe", "not UTF-8"),
                               (b"x" * 2000, "longer than"), (b"a\x07b", "control")):
        bad = tmp_path / "bad"
        bad.write_bytes(content)
        bad.chmod(0o600)
        with pytest.raises(SecretFileError, match=complaint):
            read_secret_file(bad)
    with pytest.raises(SecretFileError, match="cannot read secret file"):
        read_secret_file(tmp_path / "missing")
    assert "s3cret" not in repr(Credentials("D1", "s3cret-value"))


def _completion(session_id: str, kwh: float, reason: str) -> dict:
    return {"session_id": session_id, "energy_consumed_kwh": kwh, "reason": reason}


def test_chaos_seed_801309_case_2_a_charge_after_a_failed_start_corrects_its_ticket(tmp_path):
    from evdriver.tickets import TicketBook

    book = TicketBook(tmp_path, "D1")
    failed = _completion("S1", 0.0, "start_failed")
    charged = _completion("S1", 0.286, "monitor_lost")
    assert book.is_news(failed) and not book.corrects(failed)
    book.remember("S1", "start_failed")
    assert not book.is_news(failed)  # a duplicate of the failed start
    assert book.is_news(charged) and book.corrects(charged)
    book.remember("S1", "monitor_lost")
    reloaded = TicketBook(tmp_path, "D1")  # kept on disk: a restart changes nothing
    for b in (book, reloaded):
        assert not b.is_news(charged)  # corrected once
        assert not b.is_news(failed)  # a replayed failed start never flips it back


def test_a_charge_ticket_is_never_replaced():
    import tempfile
    from pathlib import Path

    from evdriver.tickets import TicketBook
    book = TicketBook(Path(tempfile.mkdtemp()), "D1")
    book.remember("S2", "ev_full")
    assert not book.is_news(_completion("S2", 0.0, "start_failed"))
    assert not book.is_news(_completion("S2", 9.0, "ev_full"))
