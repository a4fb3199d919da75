"""What can end a driver command, each with the exit code a script sees.

The driver's errors are evhost.cliout's typed errors, so `evcharge`'s one
boundary (hub/evcharge/cli.py) prints them as `evcharge driver: error: ...`
with the project's exit codes (docs/DRIVER.md): 1 failed, 2 usage, 3
unreachable, 4 refused, 5 config, 130 interrupted.
"""
from __future__ import annotations

from evhost import cliout

EXIT_OK = cliout.EXIT_OK
EXIT_FAILED = cliout.EXIT_FAILURE
EXIT_USAGE = cliout.EXIT_USAGE
EXIT_UNREACHABLE = cliout.EXIT_UNREACHABLE
EXIT_REFUSED = cliout.EXIT_REFUSED
EXIT_CONFIG = cliout.EXIT_CONFIG
EXIT_INTERRUPTED = cliout.EXIT_INTERRUPTED

# Every driver failure is a CommandError: str(exc) is the line's text.
DriverExit = cliout.CommandError


class RequestFailed(cliout.CommandError):
    """The command ran and did not succeed (the charge point could not start, no
    session started within --wait, another charge of this driver is running)."""


class Refused(cliout.Refused):
    """Central answered and said no (unknown or busy CP, wrong secret, ...)."""


class UsageError(cliout.UsageError):
    pass


class ConfigProblem(cliout.ConfigProblem):
    """A file or setting the driver needs: secret, CA, Kafka config, state dir."""


class Unreachable(cliout.Unreachable):
    """Central is not there (refused at once, or silent on both paths), or Kafka
    is not there for a command that must follow a session."""


class ConnectionLost(cliout.Unreachable):
    """The links to Central stayed down for the whole reconnect grace mid-session:
    Central became unreachable, so the same code as Unreachable."""


class Interrupted(cliout.CommandError):
    exit_code = EXIT_INTERRUPTED


class LinkDown(Exception):
    """A transport could not deliver a request (internal: callers fall back or give up)."""


class CentralRefusedConnection(LinkDown):
    """Nothing listens at Central's address: Central is down, the answer is immediate
    and final (no Kafka fallback, which would only wait out the timeout)."""
