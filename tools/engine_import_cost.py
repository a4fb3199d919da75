"""What each Engine module costs in heap once imported, under the MicroPython unix port.

Imports the modules one by one in a fresh `micropython` process and, after a
collect, reads gc.mem_alloc() and micropython.qstr_info() after each. The
qstr pools grow in doubling steps, so the raw heap delta of one module can
include a whole new pool; the figures are therefore split into `objects`
(heap delta minus qstr growth: bytecode, functions, classes, dicts,
constants) and the qstrs the module added (count and string bytes). The sums
per group are exact.

evwire's package __init__ imports every submodule, so its submodules are
priced one by one on a copy whose __init__ is empty; the __init__'s own
share is the whole package's cost (in a second run, on the real files) less
theirs.

    python tools/engine_import_cost.py [--bundle DIR]     (both .mpy and source)
"""
from __future__ import annotations

import argparse
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from build_firmware import build, default_mpy_cross

from evharness.procs import micropython_binary

ROOT = Path(__file__).resolve().parents[1]

# In dependency order, so each line prices one module and not its imports.
WIRE = ["evwire.compat", "evwire.errors", "evwire.types", "evwire.trace", "evwire.cbor",
        "evwire.framing", "evwire.messages", "evwire.schema", "evwire.dispatch"]
HARDWARE = ["evengine.modbus", "evengine.serialport", "evengine.serial_unix", "evengine.meter",
            "evengine.relay"]
# Whatever else the Engine loads at boot (the other helpers' modules change):
ENGINE = ["evengine.hardware", "evengine.app"]
GROUPS = (("evwire", [*WIRE, "evwire"]), ("hardware layer", HARDWARE),
          ("Engine modules", ENGINE))

PROBE = """import gc, micropython, sys
def mark(name):
    gc.collect()
    print("@@ %s %d" % (name, gc.mem_alloc()))
    micropython.qstr_info()
mark("-")
for name in sys.argv[1:]:
    try:
        __import__(name)
    except ImportError:
        print("@@! %s" % name)
        continue
    mark(name)
"""
MARK = re.compile(r"^@@ (\S+) (\d+)$")
QSTR = re.compile(r"n_qstr=(\d+), n_str_data_bytes=(\d+), n_total_bytes=(\d+)")


def probe_tree(work: Path, wire: Path, engine: Path, empty_init: bool) -> Path:
    """A copy of the two packages, evwire's __init__ emptied if asked (see above)."""
    tree = work / ("split-tree" if empty_init else "tree")
    if tree.exists():
        shutil.rmtree(tree)
    shutil.copytree(wire, tree / "evwire")
    shutil.copytree(engine, tree / "evengine")
    if empty_init:
        for init in (tree / "evwire").glob("__init__.*"):
            init.unlink()
        (tree / "evwire" / "__init__.py").write_text("")
    return tree


def run_probe(tree: Path, modules: list[str]) -> list[dict]:
    """[{module, heap, objects, qstrs, qstr_bytes}] after each import."""
    done = subprocess.run([micropython_binary(), "-X", "heapsize=2M", "-c", PROBE, *modules],
                          capture_output=True, text=True, timeout=60,
                          env={"MICROPYPATH": str(tree)})
    if done.returncode != 0:
        raise RuntimeError("import probe failed:\n" + done.stdout[-2000:] + done.stderr[-2000:])
    marks = []
    lines = done.stdout.splitlines()
    for i, line in enumerate(lines):
        found = MARK.match(line)
        if found:
            qstr = QSTR.search(lines[i + 1])
            marks.append((found.group(1), int(found.group(2)), int(qstr.group(1)),
                          int(qstr.group(2)), int(qstr.group(3))))
    rows = []
    for before, after in zip(marks, marks[1:]):
        heap = after[1] - before[1]
        rows.append({"module": after[0], "heap": heap,
                     "objects": heap - (after[4] - before[4]),
                     "qstrs": after[2] - before[2], "qstr_bytes": after[4] - before[4]})
    return rows


ROMFS_PROBE = """import gc, micropython, sys, vfs
with open(%r, "rb") as f:
    image = f.read()
vfs.mount(vfs.VfsRom(image), "/rom")
sys.path.insert(0, "/rom")
gc.collect()
print("@@ - %%d" %% gc.mem_alloc())
micropython.qstr_info()
for name in %r:
    try:
        __import__(name)
    except ImportError:  # a module of another version of the layout
        pass
gc.collect()
print("@@ all %%d" %% gc.mem_alloc())
micropython.qstr_info()
"""


def romfs_cost(image: Path) -> dict:
    """Heap and qstr bytes of the Engine's modules imported from a ROMFS image.

    Bytecode and constants stay in the image; what the heap still holds is the
    interned names (qstrs: in flash too when the modules are frozen into the
    firmware) and the objects made at import (functions, classes, dicts)."""
    modules = ["evwire", *HARDWARE, *ENGINE]
    done = subprocess.run([micropython_binary(), "-X", "heapsize=2M", "-c",
                           ROMFS_PROBE % (str(image), modules)],
                          capture_output=True, text=True, timeout=60)
    lines = done.stdout.splitlines()
    marks = [(int(MARK.match(line).group(2)), int(QSTR.search(lines[i + 1]).group(3)))
             for i, line in enumerate(lines) if MARK.match(line)]
    if done.returncode != 0 or len(marks) != 2:
        raise RuntimeError("ROMFS probe failed:\n" + done.stdout[-2000:] + done.stderr[-2000:])
    (heap0, qstr0), (heap1, qstr1) = marks
    return {"imports_heap_bytes": heap1 - heap0, "imports_qstr_bytes": qstr1 - qstr0}


def file_size(folder: Path, module: str, suffix: str) -> int | None:
    name = "__init__" if module == "evwire" else module.split(".")[-1]
    path = folder / (name + suffix)
    return path.stat().st_size if path.exists() else None


def measure(work: Path, bundle: Path | None = None) -> dict:
    """Import costs from the .mpy bundle and from source; returns both tables."""
    if bundle is None:
        bundle = work / "bundle"
        build(bundle, default_mpy_cross())
    wire_src, engine_src = ROOT / "shared" / "evwire", ROOT / "firmware" / "evengine"
    result = {}
    for label, wire, engine, suffix in (("bundle", bundle / "evwire", bundle / "evengine", ".mpy"),
                                        ("source", wire_src, engine_src, ".py")):
        rows = run_probe(probe_tree(work / label, wire, engine, True), WIRE)
        whole = run_probe(probe_tree(work / label, wire, engine, False),
                          ["evwire", *HARDWARE, *ENGINE])
        package = dict(whole[0])
        for key in ("heap", "objects", "qstrs", "qstr_bytes"):
            package[key] -= sum(r[key] for r in rows)
        rows += [package, *whole[1:]]
        for row in rows:
            folder = wire if row["module"].startswith("evwire") else engine
            row["file_bytes"] = file_size(folder, row["module"], suffix)
        groups = {}
        for group, mods in GROUPS:
            groups[group] = sum(r["heap"] for r in rows if r["module"] in mods)
        result[label] = {"modules": rows, "groups": groups,
                         "total": sum(r["heap"] for r in rows)}
    return result


def print_table(result: dict) -> None:
    for label, table in result.items():
        print(f"import cost from the {label} (bytes of heap after a collect)")
        print(f"  {'module':<22} {'file':>6} {'heap':>7} {'objects':>8} {'qstrs':>6} "
              f"{'qstr B':>7}")
        for row in table["modules"]:
            size = "" if row["file_bytes"] is None else row["file_bytes"]
            print(f"  {row['module']:<22} {size:>6} {row['heap']:>7} {row['objects']:>8} "
                  f"{row['qstrs']:>6} {row['qstr_bytes']:>7}")
        for group, heap in table["groups"].items():
            print(f"  {group:<22} {heap / 1024:>13.1f} KB")
        print(f"  {'total':<22} {table['total'] / 1024:>13.1f} KB")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--bundle", type=Path, help="a built bundle (default: build one)")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="engine-imports-") as tmp:
        print_table(measure(Path(tmp), args.bundle))
    return 0


if __name__ == "__main__":
    sys.exit(main())
