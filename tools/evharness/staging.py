"""`make install-central/install-monitor DESTDIR=...` run by the deploy tests: into a
staging tree, with systemctl, sudo, useradd, chown and chgrp replaced by recorders
(a staging install must call none of them)."""
from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

from evharness.procs import ROOT

SYSTEM_TOOLS = ("systemctl", "sudo", "useradd", "chown", "chgrp")


def fake_system_tools(tmp_path: Path) -> tuple[dict[str, str], Path]:
    """(env whose PATH has recorders for SYSTEM_TOOLS, the file they append to)."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    calls = tmp_path / "calls"
    for name in SYSTEM_TOOLS:
        tool = bin_dir / name
        tool.write_text(f'#!/bin/sh\necho "{name} $*" >> "{calls}"\n')
        tool.chmod(0o755)
    env = dict(os.environ, PATH=f"{bin_dir}:{os.environ['PATH']}")
    env.pop("DESTDIR", None)
    return env, calls


def make_install(target: str, stage: Path, env: dict[str, str]) -> subprocess.CompletedProcess:
    """`make <target> DESTDIR=stage` (target: install-central or install-monitor); the
    script it runs where make is missing."""
    if shutil.which("make"):
        argv = ["make", "--no-print-directory", target, f"DESTDIR={stage}"]
    else:
        argv = ["bash", str(ROOT / "tools" / f"{target}.sh")]
        env = dict(env, DESTDIR=str(stage))
    return subprocess.run(argv, cwd=ROOT, env=env, capture_output=True, text=True, timeout=60)
