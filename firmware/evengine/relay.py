# The charge point's switched and sensed parts besides the meter: the
# contactor (a Modbus relay module's coil or a GPIO pin), the vehicle-present
# input and the card reader. The contactor is always read back after
# switching: a contactor that does not follow its command is a fault the
# Engine must see (welded contacts keep the car live; a dead coil never
# charges it).
#
# The GPIO parts (relay_gpio.py) and the card reader (card_reader.py) are
# modules of their own, loaded only by a charge point that has them (a
# microcontroller's RAM holds the code of every imported module); their
# names stay importable from here.


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


def _state(closed):
    return "closed" if closed else "open"


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


class ModbusVehicleInput:
    """The "vehicle plugged in" signal as a discrete input of the relay module."""

    def __init__(self, master, unit=2, address=0):
        self.master = master
        self.unit = unit
        self.address = address

    def is_connected(self):
        return self.master.read_discrete_inputs(self.unit, self.address, 1)[0]


class ModbusPilot:
    """The EVSE's control pilot as a holding register (the simulated EVSE:
    the relay module's register 0): PWM duty in tenths of a percent, written
    with FC06 (the echo is the read-back)."""

    def __init__(self, master, unit=2, register=0):
        self.master = master
        self.unit = unit
        self.register = register

    def set(self, duty):
        self.master.write_register(self.unit, self.register, duty)


def __getattr__(name):
    if name in ("GpioRelay", "GpioVehicleInput", "PwmPilot"):
        from evengine import relay_gpio as parts
    elif name in ("ModbusCardReader", "CardReaderError", "decode_uid"):
        from evengine import card_reader as parts
    else:
        raise AttributeError("module 'evengine.relay' has no attribute '%s'" % name)
    return getattr(parts, name)
