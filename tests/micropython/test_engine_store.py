# Persistence: one atomic file, removed when nothing is left to keep.
import os

from engine_fakes import remove_dir, scratch_dir

from evengine.store import STATE_FILE, StateStore


def _exists(path):
    try:
        os.stat(path)
        return True
    except OSError:
        return False


def test_empty_store_loads_nothing():
    directory = scratch_dir()
    store = StateStore(directory)
    assert store.load() == {"session": None, "pending": [], "limit": None}
    remove_dir(directory)


def test_save_then_load_round_trips_and_leaves_no_temp_file():
    directory = scratch_dir()
    store = StateStore(directory)
    record = {"session_id": "S1", "driver_id": "D1", "price_per_kwh": 0.3,
              "meter_start_kwh": 12.5, "started_at": 1700000000}
    store.save(record, [{"message_id": "c1", "session_id": "S0"}])
    assert store.writes == 1
    assert StateStore(directory).load() == {
        "session": record, "pending": [{"message_id": "c1", "session_id": "S0"}],
        "limit": None}
    assert not _exists(store.tmp_path)
    remove_dir(directory)


def test_nothing_to_keep_removes_the_file():
    directory = scratch_dir()
    store = StateStore(directory)
    store.save({"session_id": "S1"}, [])
    store.save(None, [])
    assert not _exists(directory + "/" + STATE_FILE)
    assert store.writes == 2
    remove_dir(directory)


def test_damaged_file_is_kept_aside_and_the_engine_starts_clean():
    directory = scratch_dir()
    store = StateStore(directory)
    with open(store.path, "w") as f:
        f.write('{"session": {"sess')
    assert store.load() == {"session": None, "pending": [], "limit": None}
    assert _exists(store.path + ".bad")
    remove_dir(directory)


def test_nested_state_dir_is_created():
    directory = scratch_dir() + "/a/b"
    store = StateStore(directory)
    store.save({"session_id": "S1"}, [])
    assert StateStore(directory).load()["session"] == {"session_id": "S1"}
