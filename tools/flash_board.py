"""`make flash PORT=/dev/ttyUSB0`: put the Engine on a board with mpremote.

Checks the board config with the firmware's own rules, then copies the
compiled bundle (build/firmware: evengine/ and evwire/ as .mpy, main.py as
source) and the config (as :config.json) and resets the board, which then
runs main.py. With --romfs the packages go to the board's ROMFS partition
instead (MicroPython >= 1.25 builds that have one), where they run in place
from flash and leave the heap to the session.

    python tools/flash_board.py --port /dev/ttyUSB0 --config firmware/board_config.json \\
        [--bundle build/firmware] [--romfs] [--dry-run]
"""
from __future__ import annotations

import argparse
import shlex
import subprocess
import sys
from pathlib import Path

from evengine.config import ConfigError, load

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("evengine", "evwire")


def default_mpremote() -> str:
    candidate = Path(sys.executable).parent / "mpremote"
    return str(candidate) if candidate.exists() else "mpremote"


def mpremote_command(mpremote: str, port: str, bundle: Path, config: Path,
                     romfs: bool) -> list[str]:
    argv = [mpremote, "connect", port]
    if romfs:
        argv += ["romfs", "--no-mpy", "deploy", str(bundle / "rom"), "+"]
    else:
        argv += ["fs", "cp", "-r", *[str(bundle / p) for p in PACKAGES], ":", "+"]
    argv += ["fs", "cp", str(bundle / "main.py"), ":main.py", "+",
             "fs", "cp", str(config), ":config.json", "+", "reset"]
    return argv


def stage_romfs_tree(bundle: Path) -> None:
    """bundle/rom holds just the packages: what the ROMFS image is built from."""
    import shutil

    tree = bundle / "rom"
    if tree.exists():
        shutil.rmtree(tree)
    for package in PACKAGES:
        shutil.copytree(bundle / package, tree / package)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--port", required=True, help="the board's serial device")
    parser.add_argument("--config", type=Path, required=True, help="the board's JSON config")
    parser.add_argument("--bundle", type=Path, default=ROOT / "build" / "firmware")
    parser.add_argument("--romfs", action="store_true",
                        help="deploy the packages to the ROMFS partition")
    parser.add_argument("--mpremote", default=default_mpremote())
    parser.add_argument("--dry-run", action="store_true", help="print the mpremote command only")
    args = parser.parse_args(argv)
    try:
        config = load(str(args.config))
    except ConfigError as exc:
        print(f"flash_board: {exc}", file=sys.stderr)
        return 2
    missing = [name for name in (*PACKAGES, "main.py") if not (args.bundle / name).exists()]
    if missing:
        print(f"flash_board: {args.bundle} lacks {', '.join(missing)}: run `make firmware` first",
              file=sys.stderr)
        return 1
    if config["listen"] is not None and config["wifi"] is None:
        print("flash_board: note: the config listens on TCP but has no 'wifi' "
              "(fine for a board with Ethernet)", file=sys.stderr)
    if args.romfs:
        stage_romfs_tree(args.bundle)
    command = mpremote_command(args.mpremote, args.port, args.bundle, args.config, args.romfs)
    print(shlex.join(command))
    if args.dry_run:
        return 0
    try:
        return subprocess.run(command).returncode
    except OSError as exc:
        print(f"flash_board: cannot run {args.mpremote}: {exc.strerror}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
