"""The Modbus slaves on the simulated RS-485 bus, each a view of the model.

A device answers a function code by having a method named after it
(`read_coils`, `read_discrete_inputs`, `read_input_registers`, `write_coil`);
a function it lacks is an "illegal function" exception. Addresses outside
its map raise `SlaveException(ILLEGAL_ADDRESS)`.
"""
from __future__ import annotations

import struct

from evsim.model import ChargePointModel

ILLEGAL_FUNCTION = 1
ILLEGAL_ADDRESS = 2
ILLEGAL_VALUE = 3

METER_UNIT = 1
RELAY_UNIT = 2
CARD_READER_UNIT = 3


class SlaveException(Exception):
    """Answer with a Modbus exception reply carrying .code."""

    def __init__(self, code: int, text: str):
        super().__init__(text)
        self.code = code


def _check_span(address: int, count: int, size: int, what: str) -> None:
    if address + count > size:
        raise SlaveException(
            ILLEGAL_ADDRESS, f"{what} {address}..{address + count - 1} outside 0..{size - 1}"
        )


def float_registers(value: float) -> tuple[int, int]:
    """IEEE-754 float32, high word first (the Eastron layout)."""
    return struct.unpack(">HH", struct.pack(">f", value))


class Device:
    """Base: answers every time, with an intact CRC."""

    def silent(self) -> bool:
        return False

    def take_crc_fault(self) -> bool:
        return False


class MeterDevice(Device):
    """Eastron SDM120/SDM630-like meter: float32 input registers.

    Registers without a quantity read as 0.0 (as on a single-phase SDM120,
    whose phase 2/3 registers are empty), so block reads across gaps work.
    """

    REGISTER_SPACE = 0x0200

    def __init__(self, model: ChargePointModel):
        self.model = model

    def _quantities(self) -> dict[int, float]:
        power_w = self.model.power_kw() * 1000.0
        energy = self.model.meter_kwh
        return {
            0x0000: self.model.voltage,
            0x0006: self.model.current_a(),
            0x000C: power_w,
            0x0034: power_w,
            0x0048: energy,
            0x0156: energy,
        }

    def silent(self) -> bool:
        return self.model.meter_silent

    def take_crc_fault(self) -> bool:
        if self.model.crc_errors_pending > 0:
            self.model.crc_errors_pending -= 1
            return True
        return False

    def read_input_registers(self, address: int, count: int) -> list[int]:
        _check_span(address, count, self.REGISTER_SPACE, "input registers")
        words = [0] * self.REGISTER_SPACE
        for start, value in self._quantities().items():
            words[start], words[start + 1] = float_registers(value)
        return words[address:address + count]


class RelayModule(Device):
    """An 8-channel Modbus relay module: coil 0 drives the contactor, discrete
    input 0 is the vehicle-present signal; the other channels just hold state.
    Holding register 0 is the EVSE's control pilot (PWM duty cycle in tenths
    of a percent, 0-1000); registers 1..7 just hold their value."""

    CHANNELS = 8
    HOLDING = 8

    def __init__(self, model: ChargePointModel):
        self.model = model
        self.spare_coils = [False] * self.CHANNELS
        self.spare_registers = [0] * self.HOLDING

    def read_holding_registers(self, address: int, count: int) -> list[int]:
        _check_span(address, count, self.HOLDING, "holding registers")
        pilot = self.model.pilot_duty
        words = [pilot if pilot is not None else 0] + self.spare_registers[1:]
        return words[address:address + count]

    def write_register(self, address: int, value: int) -> None:
        _check_span(address, 1, self.HOLDING, "holding register")
        if address == 0:
            if value > 1000:
                raise SlaveException(ILLEGAL_VALUE, f"pilot duty {value} above 1000")
            self.model.pilot_duty = value
        else:
            self.spare_registers[address] = value

    def read_coils(self, address: int, count: int) -> list[bool]:
        _check_span(address, count, self.CHANNELS, "coils")
        states = [self.model.relay_closed] + self.spare_coils[1:]
        return states[address:address + count]

    def read_discrete_inputs(self, address: int, count: int) -> list[bool]:
        _check_span(address, count, self.CHANNELS, "discrete inputs")
        inputs = [self.model.plugged] + [False] * (self.CHANNELS - 1)
        return inputs[address:address + count]

    def write_coil(self, address: int, on: bool) -> None:
        _check_span(address, 1, self.CHANNELS, "coil")
        if address == 0:
            self.model.coil_on = on
        else:
            self.spare_coils[address] = on


class CardReader(Device):
    """RFID reader: input register 0 = swipe counter, 1..8 = UID (ASCII,
    2 chars per register, high byte first, zero-padded)."""

    REGISTERS = 9

    def __init__(self, model: ChargePointModel):
        self.model = model

    def read_input_registers(self, address: int, count: int) -> list[int]:
        _check_span(address, count, self.REGISTERS, "input registers")
        raw = self.model.last_uid.encode("ascii").ljust(16, b"\0")
        words = [self.model.swipes] + [(raw[i] << 8) | raw[i + 1] for i in range(0, 16, 2)]
        return words[address:address + count]


def bus_devices(model: ChargePointModel) -> dict[int, Device]:
    """unit -> device, as wired on one charge point's bus."""
    return {
        METER_UNIT: MeterDevice(model),
        RELAY_UNIT: RelayModule(model),
        CARD_READER_UNIT: CardReader(model),
    }
