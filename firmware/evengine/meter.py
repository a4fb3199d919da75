# Energy meter driver for Eastron SDM120 / SDM630 class meters: input
# registers (FC04), IEEE-754 float32, high word first. The energy register is
# the billing source of truth: the Engine bills reading_now - reading_at_start.
import struct

from evengine.modbus import ModbusError
from evwire.compat import const

VOLTAGE = const(0x0000)  # V (SDM630: phase 1)
CURRENT = const(0x0006)  # A (SDM630: phase 1)
ACTIVE_POWER = const(0x000C)  # W (SDM630: phase 1)
TOTAL_SYSTEM_POWER = const(0x0034)  # W (SDM630: all phases)
IMPORT_ENERGY = const(0x0048)  # kWh
TOTAL_ENERGY = const(0x0156)  # kWh

# Voltage, current and phase power lie in one block: one request, not three.
BLOCK_START = const(0x0000)
BLOCK_COUNT = const(14)  # 0x0000..0x000D


class MeterValueError(ModbusError):
    """The meter answered, but with a value that cannot be a reading."""


class MeterReading:
    def __init__(self, voltage, current, power_kw, energy_kwh):
        self.voltage = voltage
        self.current = current
        self.power_kw = power_kw
        self.energy_kwh = energy_kwh

    def __repr__(self):
        return "MeterReading(voltage=%.1f, current=%.2f, power_kw=%.3f, energy_kwh=%.4f)" % (
            self.voltage,
            self.current,
            self.power_kw,
            self.energy_kwh,
        )


def registers_to_float(registers, index):
    """The float32 in registers[index] (high word) and registers[index + 1]."""
    return struct.unpack(
        ">f", struct.pack(">HH", registers[index], registers[index + 1])
    )[0]


def _is_finite(value):
    return value == value and value not in (float("inf"), float("-inf"))


class Meter:
    """energy_register: 0x0048 (import) or 0x0156 (total); power_register:
    0x000C (phase 1, SDM120) or 0x0034 (total system power, SDM630)."""

    def __init__(self, master, unit=1, energy_register=IMPORT_ENERGY, power_register=ACTIVE_POWER):
        self.master = master
        self.unit = unit
        self.energy_register = energy_register
        self.power_register = power_register

    def read(self):
        """Voltage, current, power and energy; raises ModbusError on failure."""
        block = self.master.read_input_registers(self.unit, BLOCK_START, BLOCK_COUNT)
        voltage = registers_to_float(block, VOLTAGE - BLOCK_START)
        current = registers_to_float(block, CURRENT - BLOCK_START)
        if BLOCK_START <= self.power_register <= BLOCK_START + BLOCK_COUNT - 2:
            power_w = registers_to_float(block, self.power_register - BLOCK_START)
        else:
            power_w = self._read_float(self.power_register)
        energy_kwh = self.read_energy_kwh()
        if not (_is_finite(voltage) and _is_finite(current) and _is_finite(power_w)):
            raise MeterValueError("meter unit %d: non-finite voltage, current or power" % self.unit)
        return MeterReading(voltage, current, power_w / 1000.0, energy_kwh)

    def read_energy_kwh(self):
        """The energy register alone (what billing needs)."""
        energy = self._read_float(self.energy_register)
        if not _is_finite(energy) or energy < 0:
            raise MeterValueError("meter unit %d: invalid energy reading %r" % (self.unit, energy))
        return energy

    def _read_float(self, register):
        return registers_to_float(self.master.read_input_registers(self.unit, register, 2), 0)
