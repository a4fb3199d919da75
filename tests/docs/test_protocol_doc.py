"""docs/PROTOCOL.md is generated from the catalogue and must not drift from it."""
import runpy
from pathlib import Path

from evwire.schema import SCHEMA

ROOT = Path(__file__).resolve().parents[2]


def load_generator():
    return runpy.run_path(str(ROOT / "tools" / "gen_protocol_doc.py"))


def test_every_catalogue_type_has_a_route():
    gen = load_generator()
    assert set(SCHEMA) <= set(gen["ROUTES"])


def test_committed_protocol_doc_is_current():
    gen = load_generator()
    committed = (ROOT / "docs" / "PROTOCOL.md").read_text()
    assert committed == gen["render"](), "docs/PROTOCOL.md is stale: run `make docs`"
