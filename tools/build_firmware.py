"""`make firmware`: compile the Engine and the wire package for a board.

Every portable .py of firmware/evengine and shared/evwire becomes a .mpy
(bytecode, any architecture) under OUT/evengine and OUT/evwire; main.py is
copied as source (a board runs main.py as source at boot). What the Engine
never runs stays out of the bundle: the CPython-only modules (the `evcharge
engine` CLI, the probe, the pyserial adapter, the cbor2
glue) and evwire.auth (charge point authentication is the Monitor's). Each
.mpy names its source as "package/module.py" (what a traceback shows), not
the build machine's path: the name is stored in the file and, as an interned
string, in the board's RAM. Prints the bundle's size.

    python tools/build_firmware.py [--out build/firmware] [--mpy-cross PATH]
"""
from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = {"evengine": ROOT / "firmware" / "evengine", "evwire": ROOT / "shared" / "evwire"}
MAIN = ROOT / "firmware" / "main.py"
NOT_ON_BOARD = {"evengine": {"cli.py", "probe.py", "serial_pyserial.py"},
                "evwire": {"cbor2_codec.py", "auth.py"}}


def default_mpy_cross() -> str:
    candidate = Path(sys.executable).parent / "mpy-cross"
    return str(candidate) if candidate.exists() else "mpy-cross"


def sources() -> list[tuple[str, Path]]:
    found = []
    for package, folder in PACKAGES.items():
        for path in sorted(folder.glob("*.py")):
            if path.name not in NOT_ON_BOARD.get(package, set()):
                found.append((package, path))
    return found


def build(out: Path, mpy_cross: str) -> dict:
    """Compile into `out` (emptied first); returns the sizes in bytes."""
    if out.exists():
        shutil.rmtree(out)
    sizes: dict[str, int] = {}
    for package, path in sources():
        target = out / package / (path.stem + ".mpy")
        target.parent.mkdir(parents=True, exist_ok=True)
        done = subprocess.run([mpy_cross, "-s", f"{package}/{path.name}", "-o", str(target),
                               str(path)], capture_output=True, text=True)
        if done.returncode != 0:
            raise RuntimeError(f"mpy-cross failed on {path.relative_to(ROOT)}: "
                               f"{done.stderr.strip()}")
        sizes[package] = sizes.get(package, 0) + target.stat().st_size
    shutil.copyfile(MAIN, out / "main.py")
    sizes["main.py"] = (out / "main.py").stat().st_size
    sizes["total"] = sum(f.stat().st_size for f in out.rglob("*") if f.is_file())
    return sizes


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, default=ROOT / "build" / "firmware")
    parser.add_argument("--mpy-cross", default=default_mpy_cross())
    args = parser.parse_args(argv)
    try:
        sizes = build(args.out, args.mpy_cross)
    except (OSError, RuntimeError) as exc:
        print(f"build_firmware: {exc}", file=sys.stderr)
        return 1
    files = sum(1 for f in args.out.rglob("*") if f.is_file())
    print(f"firmware bundle: {args.out} ({files} files)")
    for name in ("evengine", "evwire", "main.py"):
        print(f"  {name:<9} {sizes[name]:>7} bytes")
    print(f"  {'total':<9} {sizes['total']:>7} bytes ({sizes['total'] / 1024:.1f} KB)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
