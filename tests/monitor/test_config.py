"""Settings: file < environment < flags; every bad value is one clear line, exit 2."""
from __future__ import annotations

import pytest

from evmonitor import cli, config
from evmonitor.config import ConfigError

BASE = {"cp_id": "CP1", "secret": "s", "central": "127.0.0.1:7000", "engine": "127.0.0.1:7001"}


def write(tmp_path, text: str):
    path = tmp_path / "monitor.toml"
    path.write_text(text)
    path.chmod(0o600)  # some hold a secret inline, which a readable file may not
    return str(path)


def test_defaults_match_the_issue():
    cfg = config.build(None, dict(BASE), environ={})
    assert cfg.health_interval == 1.0 and cfg.heartbeat_interval == 1.0
    assert cfg.engine_timeout == 1.0
    assert cfg.backoff_base == 0.5 and cfg.backoff_cap == 30.0 and cfg.backoff_reset == 10.0
    assert cfg.outbox_bound == 10000
    assert str(cfg.central_endpoint) == "127.0.0.1:7000"


def test_flags_beat_environment_beat_file(tmp_path):
    path = write(tmp_path, 'cp_id = "FILE"\nsecret = "file-secret"\ncentral = "h:1"\n'
                           'engine = "e:2"\nlocation = "from file"\nmax_kw = 11\n'
                           'health_interval = 2.5\n')
    env = {"EVCHARGE_CP_ID": "ENV", "EVCHARGE_MAX_KW": "7.4", "EVCHARGE_KAFKA": "k:9092"}
    cfg = config.build(path, {"cp_id": "FLAG", "max_kw": None}, environ=env)
    assert cfg.cp_id == "FLAG"
    assert cfg.max_kw == 7.4
    assert cfg.kafka == "k:9092"
    assert cfg.location == "from file"
    assert cfg.health_interval == 2.5
    assert cfg.secret == "file-secret"


def test_a_monitor_table_and_dashed_keys_are_accepted(tmp_path):
    path = write(tmp_path, '[monitor]\ncp-id = "CP7"\nsecret = "s"\ncentral = "h:1"\n'
                           'engine-serial = "/dev/ttyACM0"\npanel = true\n')
    cfg = config.build(path, {}, environ={})
    assert cfg.cp_id == "CP7" and cfg.engine_serial == "/dev/ttyACM0" and cfg.panel is True


def test_a_higher_layer_choosing_serial_replaces_the_files_tcp_engine(tmp_path):
    path = write(tmp_path, 'cp_id = "CP1"\nsecret = "s"\ncentral = "h:1"\nengine = "e:2"\n')
    cfg = config.build(path, {}, environ={"EVCHARGE_ENGINE_SERIAL": "/dev/ttyUSB0"})
    assert cfg.engine_serial == "/dev/ttyUSB0" and cfg.engine == ""


def test_secret_from_a_file(tmp_path):
    secret = tmp_path / "secret"
    secret.write_text("from-file\n")
    flags = dict(BASE, secret=None, secret_file=str(secret))
    secret.chmod(0o644)
    with pytest.raises(config.ConfigError, match="may be read by others"):
        config.build(None, flags, environ={})
    secret.chmod(0o600)
    assert config.build(None, flags, environ={}).secret == "from-file"


@pytest.mark.parametrize("text, problem", [
    ('cp_id = "CP1"\nsecrett = "x"\n', "unknown setting 'secrett'"),
    ('cp_id = "CP1\n', "is not valid TOML"),
    ('max_kw = "lots"\n', "max_kw must be a number"),
    ('panel = "maybe"\n', "panel must be true or false"),
    ('outbox_bound = 1.5\n', "outbox_bound must be an integer"),
])
def test_bad_files_name_the_problem(tmp_path, text, problem):
    with pytest.raises(ConfigError, match=problem):
        config.build(write(tmp_path, text), {}, environ={})


@pytest.mark.parametrize("change, problem", [
    ({"cp_id": None}, "cp_id is required"),
    ({"central": "nowhere"}, "central: expected HOST:PORT, got 'nowhere'"),
    ({"engine": None}, "exactly one of engine"),
    ({"engine_serial": "/dev/ttyACM0"}, "exactly one of engine"),
    ({"health_interval": 0.0}, "health_interval must be greater than 0"),
    ({"log_level": "loud"}, "log_level must be one of"),
    ({"secret": None, "secret_file": "/nonexistent/secret"}, "cannot read /nonexistent"),
])
def test_bad_settings_name_the_problem(change, problem):
    flags = dict(BASE)
    flags.update(change)
    with pytest.raises(ConfigError, match=problem):
        config.build(None, flags, environ={})


def test_missing_file_is_reported(tmp_path):
    with pytest.raises(ConfigError, match="does not exist"):
        config.build(str(tmp_path / "nope.toml"), {}, environ={})


@pytest.mark.parametrize(("argv", "code"), [
    (["--cp-id", "CP1"], 5),  # a setting missing (the secret): configuration
    (["--max-kw", "abc"], 2),  # a bad option: usage
    (["--engine", "a:1", "--engine-serial", "/dev/x"], 2),
    (["--config", "/nonexistent/monitor.toml"], 5),
])
def test_cli_bad_input_is_one_line_and_its_class_exit_code(argv, code, capsys, monkeypatch):
    monkeypatch.delenv("EVCHARGE_SECRET", raising=False)
    with pytest.raises(SystemExit) as stop:
        raise SystemExit(cli.main(argv))
    assert stop.value.code == code
    err = capsys.readouterr().err
    assert len(err.strip().splitlines()) == 1
    assert err.startswith("evcharge monitor: error: ")
    assert "Traceback" not in err


def test_central_takes_a_list_of_addresses():
    cfg = config.build(None, dict(BASE, central="a:7000, b:7000,a:7000"), environ={})
    assert [str(e) for e in cfg.central_endpoints] == ["a:7000", "b:7000"]  # each once
    assert str(cfg.central_endpoint) == "a:7000"
    with pytest.raises(ConfigError, match="central: expected HOST:PORT, got 'b'"):
        config.build(None, dict(BASE, central="a:7000,b"), environ={})
    many = ",".join(f"h{n}:7000" for n in range(config.MAX_CENTRALS + 1))
    with pytest.raises(ConfigError, match="at most 16 addresses"):
        config.build(None, dict(BASE, central=many), environ={})
