"""A second, independent Modbus bus served by pymodbus (pin <4), to prove the
Engine's own Modbus RTU code against an implementation nobody here wrote.

    python -m evsim.pymodbus_bus --link PATH --voltage 231.5 --current 9.75 \\
        --power-w 2250 --energy-kwh 4321.125

Unit 1 is an SDM-style meter holding the given float32 values (encoded by
pymodbus itself); unit 2 a relay module (coils 0..7, discrete input 0 =
vehicle plugged). pymodbus opens a serial device by path and so does the
Engine, but a pty has a path on one side only; so there are two ptys and a
bridge between their masters: a null-modem cable in software.
"""
from __future__ import annotations

import argparse
import asyncio
import os
import selectors
import signal
import sys
import threading
import tty
from pathlib import Path

from evsim.ptylink import PtyLink


def _raw_pty() -> tuple[int, int, str]:
    master, slave = os.openpty()
    tty.setraw(slave)
    return master, slave, os.ttyname(slave)


def bridge(a: int, b: int, stop: threading.Event) -> None:
    """Copy bytes both ways between two pty masters until stop is set."""
    selector = selectors.DefaultSelector()
    selector.register(a, selectors.EVENT_READ, b)
    selector.register(b, selectors.EVENT_READ, a)
    while not stop.is_set():
        for key, _events in selector.select(0.1):
            try:
                data = os.read(key.fd, 4096)
            except OSError:  # the far side is not open right now
                continue
            if data:
                os.write(key.data, data)


def build_devices(args: argparse.Namespace) -> list:
    from pymodbus.simulator import DataType, SimData, SimDevice

    def floats(address: int, values: list[float]) -> SimData:
        return SimData(address, values=values, datatype=DataType.FLOAT32)

    meter_registers = [
        # 0x0000 voltage, 0x0006 current, 0x000C power: one block of 7 floats
        floats(0x0000, [args.voltage, 0.0, 0.0, args.current, 0.0, 0.0, args.power_w]),
        floats(0x0034, [args.power_w]),
        floats(0x0048, [args.energy_kwh]),
        floats(0x0156, [args.energy_kwh]),
    ]
    meter = SimDevice(1, simdata=meter_registers)
    bits = [SimData(0, values=[False] * 8, datatype=DataType.BITS)]
    inputs = [SimData(0, values=[not args.unplugged] + [False] * 7, datatype=DataType.BITS)]
    relay = SimDevice(
        2,
        simdata=(bits, inputs, [SimData(0, values=[0], datatype=DataType.REGISTERS)],
                 [SimData(0, values=[0], datatype=DataType.REGISTERS)]),
    )
    return [meter, relay]


async def serve(device: str, devices: list, ready: str) -> None:
    from pymodbus import FramerType
    from pymodbus.server import ModbusSerialServer

    # Other units: pymodbus 3.16 answers them with exception 4 (its device
    # lookup raises KeyError, which ignore_missing_devices does not cover),
    # unlike a real bus, where nobody answers.
    server = ModbusSerialServer(devices, framer=FramerType.RTU, port=device, baudrate=9600)
    loop = asyncio.get_running_loop()
    stopping = asyncio.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stopping.set)
    await server.serve_forever(background=True)
    print(ready, flush=True)
    await stopping.wait()
    await server.shutdown()


def main(argv: list[str]) -> int:
    p = argparse.ArgumentParser(prog="python -m evsim.pymodbus_bus")
    p.add_argument("--link", type=Path, required=True)
    p.add_argument("--voltage", type=float, default=230.0)
    p.add_argument("--current", type=float, default=0.0)
    p.add_argument("--power-w", type=float, default=0.0)
    p.add_argument("--energy-kwh", type=float, default=0.0)
    p.add_argument("--unplugged", action="store_true")
    args = p.parse_args(argv)
    try:
        devices = build_devices(args)
    except ImportError as exc:
        print(f"pymodbus_bus: pymodbus is not installed ({exc})", file=sys.stderr)
        return 2
    server_master, server_slave, server_device = _raw_pty()
    engine_side = PtyLink(args.link)  # the path the Engine opens
    stop = threading.Event()
    copier = threading.Thread(
        target=bridge, args=(server_master, engine_side.master_fd, stop), daemon=True
    )
    copier.start()
    try:
        asyncio.run(serve(server_device, devices, f"ready link={args.link}"))
    finally:
        stop.set()
        copier.join(2)
        engine_side.close()
        os.close(server_master)
        os.close(server_slave)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
