# The Engine's view of its hardware: meter, contactor, vehicle input. Builds
# the drivers from the config and turns their many error classes into one
# HardwareError, so the charge point logic has one thing to catch and a fake
# for tests has one small interface to implement:
#   read_meter() -> reading (.voltage .current .power_kw .energy_kwh)
#   set_relay(on) -> the state read back after switching
#   relay_closed() -> bool;  vehicle_connected() -> bool;  close()
#   poll_card() -> a card UID swiped since the last poll, or None
#   set_pilot(duty) -> the control pilot's duty cycle, tenths of a percent
from evwire.trace import log


class HardwareError(Exception):
    """The meter or the relay module did not answer, or answered garbage."""


class Hardware:
    def __init__(self, meter, relay, vehicle, errors, relay_mismatch, port=None,
                 card_reader=None, pilot=None):
        self.meter = meter
        self.relay = relay
        self.vehicle = vehicle
        self.errors = errors  # driver exception classes meaning "no good answer"
        self.relay_mismatch = relay_mismatch
        self.port = port
        # On a board the key menu can stand in for a missing plug sensor.
        self.vehicle_override = None
        # Optional: anything whose poll() returns a swiped card's UID or None
        # (card_reader.ModbusCardReader on the bus, or a board's own reader driver).
        self.card_reader = card_reader
        self.pilot = pilot  # None: the EVSE has no pilot we drive (config pilot none)

    def read_meter(self):
        try:
            return self.meter.read()
        except self.errors as exc:
            raise HardwareError(_describe(exc))

    def set_relay(self, on):
        try:
            self.relay.set(on)
            return on
        except self.relay_mismatch:
            return not on
        except self.errors as exc:
            raise HardwareError(_describe(exc))

    def relay_closed(self):
        try:
            return bool(self.relay.is_closed())
        except self.errors as exc:
            raise HardwareError(_describe(exc))

    def vehicle_connected(self):
        if self.vehicle_override is not None:
            return self.vehicle_override
        try:
            return bool(self.vehicle.is_connected())
        except self.errors as exc:
            raise HardwareError(_describe(exc))

    def poll_card(self):
        if self.card_reader is None:
            return None
        try:
            return self.card_reader.poll()
        except Exception as exc:  # a board's own reader may raise anything: it is not ours
            raise HardwareError(_describe(exc))

    def set_pilot(self, duty):
        if self.pilot is None:
            return
        try:
            self.pilot.set(duty)
        except self.errors as exc:
            raise HardwareError(_describe(exc))

    def close(self):
        if self.port is not None:
            try:
                self.port.close()
            except OSError:
                pass


def _describe(exc):
    text = str(exc)
    name = type(exc).__name__
    return "%s: %s" % (name, text) if text else name


def build(config):
    """Open the Modbus bus (and GPIO pins) described by the config."""
    from evengine import relay as relays
    from evengine.meter import Meter
    from evengine.modbus import ModbusError, ModbusMaster
    from evengine.serialport import open_serial

    port = open_serial(config["meter"], baudrate=config["meter_baud"])
    master = ModbusMaster(port, timeout_ms=config["modbus_timeout_ms"])
    meter = Meter(master, unit=config["meter_unit"],
                  energy_register=config["meter_energy_register"])
    if config["relay"] == "gpio":
        relay = relays.GpioRelay(config["relay_pin"], active_high=config["relay_active_high"])
    else:
        relay = relays.ModbusRelay(master, unit=config["relay_unit"], coil=config["relay_coil"],
                                   on_value=config["relay_on_value"])
    if config["vehicle_pin"] is not None:
        vehicle = relays.GpioVehicleInput(config["vehicle_pin"])
    else:
        vehicle = relays.ModbusVehicleInput(master, unit=config["vehicle_unit"],
                                            address=config["vehicle_address"])
    reader = None
    if config["card_reader_unit"] is not None:  # its code is loaded only when there is one
        from evengine.card_reader import ModbusCardReader

        reader = ModbusCardReader(master, unit=config["card_reader_unit"])
    pilot = None
    if config.get("pilot", "none") == "modbus":
        pilot = relays.ModbusPilot(master, unit=config["pilot_unit"],
                                   register=config["pilot_register"])
    elif config.get("pilot") == "pwm":
        pilot = relays.PwmPilot(config["pilot_pin"])
    log("info", "hardware: meter %s unit %d, relay %s, vehicle input %s, card reader %s, "
        "pilot %s" % (
            config["meter"], config["meter_unit"], config["relay"],
            "gpio" if config["vehicle_pin"] is not None else "modbus",
            "unit %d" % config["card_reader_unit"] if reader is not None else "none",
            config.get("pilot", "none")))
    return Hardware(meter, relay, vehicle, (ModbusError, OSError), relays.RelayMismatch, port,
                    reader, pilot)
