"""What can end a driver command, each with the exit code a script sees.

The CLI catches DriverExit at one boundary and turns it into a one-line
message and this exit code (documented in docs/DRIVER.md).
"""
from __future__ import annotations

EXIT_OK = 0
EXIT_FAILED = 1
EXIT_USAGE = 2
EXIT_UNREACHABLE = 3
EXIT_CONNECTION_LOST = 4
EXIT_INTERRUPTED = 130


class DriverExit(Exception):
    """Ends the command with `exit_code`; str(exc) is the line shown to the user."""

    exit_code = EXIT_FAILED


class RequestFailed(DriverExit):
    """Central refused or could not carry out a request."""

    exit_code = EXIT_FAILED


class UsageError(DriverExit):
    exit_code = EXIT_USAGE


class Unreachable(DriverExit):
    """Neither Central's socket nor Kafka answered (or Kafka, which a session needs)."""

    exit_code = EXIT_UNREACHABLE


class ConnectionLost(DriverExit):
    """The links to Central stayed down for the whole reconnect grace mid-session."""

    exit_code = EXIT_CONNECTION_LOST


class Interrupted(DriverExit):
    exit_code = EXIT_INTERRUPTED


class LinkDown(Exception):
    """A transport could not deliver a request (internal: callers fall back or give up)."""
