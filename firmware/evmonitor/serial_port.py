"""The Engine link over a serial line (USB CDC, RS-232, a pty): same frames as TCP.

pyserial blocks, so a reader thread feeds the bytes into an asyncio
StreamReader; writes are small frames and go straight to the port.
"""
from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable

import serial

from evmonitor.framed import FramedLink

READ_TIMEOUT_S = 0.2
WRITE_TIMEOUT_S = 1.0


class SerialPort:
    def __init__(self, device: str, baud: int, loop: asyncio.AbstractEventLoop,
                 reader: asyncio.StreamReader):
        self.device = device
        self.reader = reader
        self._loop = loop
        self._stop = threading.Event()
        self._port = serial.serial_for_url(device, baudrate=baud, timeout=READ_TIMEOUT_S,
                                           write_timeout=WRITE_TIMEOUT_S, exclusive=True)
        self._thread = threading.Thread(target=self._read_loop, name=f"serial {device}",
                                        daemon=True)
        self._thread.start()

    def _read_loop(self) -> None:
        while not self._stop.is_set():
            try:
                data = self._port.read(max(1, self._port.in_waiting or 1))
            except (serial.SerialException, OSError, TypeError, AttributeError):
                # The device went away (unplugged board, closed pty): end of stream.
                break
            if data:
                self._to_loop(self.reader.feed_data, data)
        self._to_loop(self.reader.feed_eof)

    def _to_loop(self, func: Callable[..., None], *args: bytes) -> None:
        try:
            self._loop.call_soon_threadsafe(func, *args)
        except RuntimeError:
            pass  # the loop already closed at shutdown: nobody is left to read

    def write(self, data: bytes) -> None:
        try:
            self._port.write(data)
        except serial.SerialException as exc:
            raise OSError(str(exc)) from exc

    def close(self) -> None:
        self._stop.set()
        try:
            self._port.close()
        except (serial.SerialException, OSError):
            pass


async def open_serial(name: str, device: str, baud: int) -> FramedLink:
    """Open the device; raises OSError when it is missing or busy."""
    loop = asyncio.get_running_loop()
    try:
        # The reader belongs to the loop, so it is made here; opening may block, so not here.
        port = await asyncio.to_thread(SerialPort, device, baud, loop, asyncio.StreamReader())
    except (serial.SerialException, ValueError) as exc:
        raise OSError(str(exc)) from exc
    return FramedLink(name, port.reader, port.write, port.close)
