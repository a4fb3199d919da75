"""evsim: one charge point's virtual hardware behind a pseudo-terminal.

`evcharge sim-hw --link PATH` (evsim.cli) answers Modbus RTU as the energy
meter (unit 1), the relay module (unit 2) and the card reader (unit 3), with
a simulated car drawing power; a control socket (evsim.control.ControlClient)
plugs, unplugs and injects faults. See docs/HARDWARE.md.

Modules: model (the physics), devices (register maps), rtu (slave framing),
ptylink (the pty and its link), commands + controlserver (control channel),
server (the loop), cli, control (client), harness (start it from tests),
pymodbus_bus (an independent pymodbus bus for cross-checks).
"""
