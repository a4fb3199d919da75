# MicroPython-side test runner: imports every test_*.py module in this folder,
# runs each test_* function, and prints a closing "N passed, N failed" line
# (CI recognises that line; MicroPython has no pytest).
import os
import sys

HERE = "tests/micropython"
passed = 0
failed = 0
only = sys.argv[1:] if len(sys.argv) > 1 else None
for name in sorted(os.listdir(HERE)):
    if not (name.startswith("test_") and name.endswith(".py")):
        continue
    modname = name[:-3]
    if only and modname not in only:
        continue
    try:
        mod = __import__(modname)
    except Exception as exc:
        failed += 1
        print("FAIL %s (import): %r" % (modname, exc))
        sys.print_exception(exc)
        continue
    for attr in sorted(dir(mod)):
        if not attr.startswith("test_"):
            continue
        fn = getattr(mod, attr)
        try:
            fn()
            passed += 1
        except Exception as exc:
            failed += 1
            print("FAIL %s.%s: %r" % (modname, attr, exc))
            sys.print_exception(exc)
print("micropython: %d passed, %d failed" % (passed, failed))
sys.exit(1 if failed else 0)
