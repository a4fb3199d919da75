# The charge point's switched and sensed parts besides the meter: the
# contactor (a Modbus relay module's coil or a GPIO pin), the vehicle-present
# input and the card reader. The contactor is always read back after
# switching: a contactor that does not follow its command is a fault the
# Engine must see (welded contacts keep the car live; a dead coil never
# charges it).
from evengine.modbus import ModbusError
from evwire.compat import const

_UID_FIRST = const(1)  # card reader: register 0 = swipe counter, 1..8 = UID
_UID_REGISTERS = const(8)


class RelayMismatch(Exception):
    """The contactor's read-back differs from the command.

    .commanded / .actual: True = closed; .kind: "welded" (stuck closed) or
    "dead" (stuck open)."""

    def __init__(self, commanded, actual):
        self.commanded = commanded
        self.actual = actual
        self.kind = "welded" if actual else "dead"
        super().__init__(
            "relay commanded %s but reads back %s (%s contactor)"
            % (_state(commanded), _state(actual), self.kind)
        )


class CardReaderError(ModbusError):
    """The card reader answered with a UID that is not a card id."""


def _state(closed):
    return "closed" if closed else "open"


def _pin(pin, mode):
    """A machine.Pin from a pin id (mode "IN" or "OUT"), or a ready pin-like
    object (anything with value()) as given."""
    if hasattr(pin, "value"):
        return pin
    import machine

    return machine.Pin(pin, getattr(machine.Pin, mode))


class ModbusRelay:
    """A relay module's coil; on_value=False for modules whose contact
    closes when the coil is off."""

    def __init__(self, master, unit=2, coil=0, on_value=True):
        self.master = master
        self.unit = unit
        self.coil = coil
        self.on_value = on_value

    def set(self, on):
        """Close (on=True) or open the contactor; raises RelayMismatch if the
        read-back disagrees, ModbusError if the module does not answer."""
        on = bool(on)
        self.master.write_coil(self.unit, self.coil, on == self.on_value)
        actual = self.is_closed()
        if actual != on:
            raise RelayMismatch(on, actual)

    def is_closed(self):
        return self.master.read_coils(self.unit, self.coil, 1)[0] == self.on_value


class GpioRelay:
    """A contactor driven from a GPIO pin (board only). feedback_pin: the
    contactor's auxiliary contact, if wired; without it the read-back is the
    output latch, which catches a stuck driver but not welded contacts."""

    def __init__(self, pin, active_high=True, feedback_pin=None, feedback_active_high=True):
        self.active_high = bool(active_high)
        self._out = _pin(pin, "OUT")
        self._out.value(0 if self.active_high else 1)
        self._feedback = None
        self.feedback_active_high = bool(feedback_active_high)
        if feedback_pin is not None:
            self._feedback = _pin(feedback_pin, "IN")

    def set(self, on):
        on = bool(on)
        self._out.value(1 if on == self.active_high else 0)
        actual = self.is_closed()
        if actual != on:
            raise RelayMismatch(on, actual)

    def is_closed(self):
        if self._feedback is not None:
            return bool(self._feedback.value()) == self.feedback_active_high
        return bool(self._out.value()) == self.active_high


class ModbusVehicleInput:
    """The "vehicle plugged in" signal as a discrete input of the relay module."""

    def __init__(self, master, unit=2, address=0):
        self.master = master
        self.unit = unit
        self.address = address

    def is_connected(self):
        return self.master.read_discrete_inputs(self.unit, self.address, 1)[0]


class GpioVehicleInput:
    def __init__(self, pin, active_high=True):
        self.active_high = bool(active_high)
        self._pin = _pin(pin, "IN")

    def is_connected(self):
        return bool(self._pin.value()) == self.active_high


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
