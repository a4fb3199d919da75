# The card reader on the Modbus bus (see relay.py, whose names these are
# too): an RFID reader whose input registers hold a swipe counter and the
# last card's UID.
from evengine.modbus import ModbusError
from evwire.compat import const

_UID_FIRST = const(1)  # register 0 = swipe counter, 1..8 = UID
_UID_REGISTERS = const(8)


class CardReaderError(ModbusError):
    """The card reader answered with a UID that is not a card id."""


def decode_uid(registers):
    """Registers holding ASCII, 2 chars each, high byte first, zero-padded.
    Raises CardReaderError if a byte is not printable ASCII."""
    chars = bytearray()
    for reg in registers:
        for byte in (reg >> 8, reg & 0xFF):
            if byte == 0:
                return bytes(chars).decode()
            if not 0x21 <= byte <= 0x7E:
                raise CardReaderError("card UID byte 0x%02x is not printable ASCII" % byte)
            chars.append(byte)
    return bytes(chars).decode()


class ModbusCardReader:
    """An RFID reader on the bus: input register 0 counts swipes, registers
    1..8 hold the last card's UID. poll() reports each swipe once; the first
    poll only learns the counter, so a swipe from before boot is not
    replayed."""

    def __init__(self, master, unit=3):
        self.master = master
        self.unit = unit
        self._last_count = None

    def poll(self):
        """None, or the UID text of a card swiped since the previous poll."""
        regs = self.master.read_input_registers(self.unit, 0, _UID_FIRST + _UID_REGISTERS)
        count = regs[0]
        previous = self._last_count
        self._last_count = count
        if previous is None or count == previous:
            return None
        uid = decode_uid(regs[_UID_FIRST:])
        return uid or None
