"""The import rules of docs/INTERNALS.md hold (setup.cfg's import-linter contracts),
and the checker does catch a broken rule (it is not a check that cannot fail)."""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
LINT_IMPORTS = str(Path(sys.executable).parent / "lint-imports")


def lint_imports(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([LINT_IMPORTS, "--no-cache", "--no-logo", *args], cwd=ROOT,
                          capture_output=True, text=True, timeout=120)


def test_every_import_rule_is_kept():
    result = lint_imports()
    assert result.returncode == 0, result.stdout + result.stderr
    assert "0 broken" in result.stdout


def test_a_tier_importing_another_tiers_internals_is_caught(tmp_path):
    # A real import in the tree that a rule forbids: the Monitor stands on evwire, so a
    # contract forbidding that must come out broken, naming the importing module.
    config = tmp_path / "contracts.ini"
    config.write_text("[importlinter]\nroot_packages =\n    evwire\n    evmonitor\n\n"
                      "[importlinter:contract:probe]\nname = probe\ntype = forbidden\n"
                      "source_modules = evmonitor\nforbidden_modules = evwire\n")
    result = lint_imports("--config", str(config))
    assert result.returncode == 1
    assert "BROKEN" in result.stdout and "evmonitor." in result.stdout
