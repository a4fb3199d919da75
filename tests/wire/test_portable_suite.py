"""The portable wire tests (tests/micropython/test_wire_*.py) run under CPython too.

On CPython evwire.dumps/loads are cbor2 and CRC is binascii.crc_hqx, so the
same assertions check the CPython fast paths as well as the portable codec.
"""
import sys


def test_portable(portable_case):
    module_name, function_name = portable_case
    getattr(sys.modules[module_name], function_name)()
