# The contactor and the vehicle-present input on a board's GPIO pins (see
# relay.py, whose names these are too).
from evengine.relay import RelayMismatch


def _pin(pin, mode):
    """A machine.Pin from a pin id (mode "IN" or "OUT"), or a ready pin-like
    object (anything with value()) as given."""
    if hasattr(pin, "value"):
        return pin
    import machine

    return machine.Pin(pin, getattr(machine.Pin, mode))


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


class GpioVehicleInput:
    def __init__(self, pin, active_high=True):
        self.active_high = bool(active_high)
        self._pin = _pin(pin, "IN")

    def is_connected(self):
        return bool(self._pin.value()) == self.active_high


class PwmPilot:
    """The control pilot's 1 kHz PWM on a board pin (IEC 61851-1): duty in
    tenths of a percent; 1000 = constant high = no charging offered."""

    def __init__(self, pin, freq=1000):
        import machine

        self._pwm = machine.PWM(_pin(pin, "OUT"), freq=freq)

    def set(self, duty):
        self._pwm.duty_u16(duty * 65535 // 1000)
