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


def test_the_monitor_on_a_pi_needs_only_its_own_dependencies():
    # What tools/install-monitor.sh installs on a Pi: cbor2, pyserial, confluent-kafka.
    probe = ("import sys, evcharge.cli, evmonitor.cli, evmonitor.daemon\n"
             "print(' '.join(sorted({m.split('.')[0] for m in sys.modules}"
             " - set(sys.stdlib_module_names))))")
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True,
                          timeout=60, cwd=ROOT)
    assert done.returncode == 0, done.stderr
    loaded = {name for name in done.stdout.split() if not name.startswith("_")}
    assert loaded == {"cbor2", "confluent_kafka", "serial", "evcharge", "evhost", "evkafka",
                      "evmonitor", "evwire"}, loaded
