"""The hardware layer loads only the parts a charge point uses (on a
microcontroller every imported module's code sits in RAM), while every name
stays importable from serialport.py and relay.py as before."""
from __future__ import annotations

import json
import os
import subprocess

import pytest

from evengine import card_reader, relay, relay_gpio, serial_pyserial, serial_uart, serialport
from evharness.procs import ROOT, micropython_binary

OPTIONAL_PARTS = ("evengine.serial_uart", "evengine.serial_unix", "evengine.serial_pyserial",
                  "evengine.relay_gpio", "evengine.card_reader")

PROBE = """import json, sys
import evengine.hardware, evengine.meter, evengine.modbus, evengine.relay, evengine.serialport
loaded = {"boot": sorted(k for k in sys.modules if k.startswith("evengine."))}
port = evengine.serialport.open_serial(%r)
port.close()
loaded["device"] = sorted(k for k in sys.modules if k.startswith("evengine."))
from evengine.relay import GpioRelay
loaded["gpio"] = sorted(k for k in sys.modules if k.startswith("evengine."))
print(json.dumps(loaded))
"""


def micropython_modules(device: str) -> dict:
    done = subprocess.run([micropython_binary(), "-c", PROBE % device], capture_output=True,
                          text=True, timeout=30,
                          env={"MICROPYPATH": f"{ROOT / 'firmware'}:{ROOT / 'shared'}"})
    assert done.returncode == 0, done.stdout + done.stderr
    return json.loads(done.stdout.splitlines()[-1])


def test_micropython_loads_the_unix_adapter_only_when_a_device_is_opened():
    controller, device = os.openpty()  # a real pty stands in for the RS-485 adapter
    try:
        loaded = micropython_modules(os.ttyname(device))
    finally:
        os.close(device)
        os.close(controller)
    assert not set(OPTIONAL_PARTS) & set(loaded["boot"])
    assert set(OPTIONAL_PARTS) & set(loaded["device"]) == {"evengine.serial_unix"}
    assert set(OPTIONAL_PARTS) & set(loaded["gpio"]) == {"evengine.serial_unix",
                                                         "evengine.relay_gpio"}


def test_every_name_is_still_importable_from_serialport_and_relay():
    assert serialport.UartPort is serial_uart.UartPort
    assert serialport.parse_uart_spec is serial_uart.parse_uart_spec
    assert serialport.PyserialPort is serial_pyserial.PyserialPort
    assert relay.GpioRelay is relay_gpio.GpioRelay
    assert relay.GpioVehicleInput is relay_gpio.GpioVehicleInput
    for name in ("ModbusCardReader", "CardReaderError", "decode_uid"):
        assert getattr(relay, name) is getattr(card_reader, name)
    with pytest.raises(AttributeError, match="evengine.serialport.*no attribute 'Nope'"):
        serialport.Nope  # noqa: B018
    with pytest.raises(AttributeError, match="evengine.relay.*no attribute 'Nope'"):
        relay.Nope  # noqa: B018
