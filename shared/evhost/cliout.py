"""How every `evcharge` command fails: one line on stderr, one exit code per class.

    evcharge <cmd>: error: <what went wrong>

A command raises one of the typed errors below (or argparse reports a usage
error, exit 2); hub/evcharge/cli.py turns it into that line and its exit code,
so scripts can tell "you typed it wrong" from "Central is not there" from
"Central said no" without parsing text.
"""
from __future__ import annotations

import argparse
import sys
from typing import NoReturn

EXIT_OK = 0
EXIT_FAILURE = 1  # the command ran and the thing it checks failed (e.g. a demo check)
EXIT_USAGE = 2  # bad options or arguments: fix the command line (argparse's own code)
EXIT_UNREACHABLE = 3  # the server (Central, broker, MQTT) could not be reached or timed out
EXIT_REFUSED = 4  # the server answered and refused (bad credentials, unknown CP, ...)
EXIT_CONFIG = 5  # a file or setting the command needs is missing or wrong (secret file, cert)
EXIT_INTERRUPTED = 130  # Ctrl-C


class CommandError(Exception):
    """A failure the user should read as one line; str() is that line's text."""

    exit_code = EXIT_FAILURE


class UsageError(CommandError):
    exit_code = EXIT_USAGE


class Unreachable(CommandError):
    exit_code = EXIT_UNREACHABLE


class Refused(CommandError):
    exit_code = EXIT_REFUSED


class ConfigProblem(CommandError):
    exit_code = EXIT_CONFIG


def error_line(command: str, message: str) -> str:
    return f"evcharge {command}: error: {message}"


def report(command: str, exc: CommandError) -> int:
    """Print exc as the command's one error line; return its exit code."""
    print(error_line(command, str(exc)), file=sys.stderr)
    return exc.exit_code


class Parser(argparse.ArgumentParser):
    """argparse with the project's error line (usage errors exit 2, as argparse's do).

    prog should be "evcharge <cmd>" so the line reads `evcharge <cmd>: error: ...`,
    which is argparse's own format; the usage block is printed before it, once."""

    def error(self, message: str) -> NoReturn:
        self.print_usage(sys.stderr)
        self.exit(EXIT_USAGE, f"{self.prog}: error: {message}\n")
