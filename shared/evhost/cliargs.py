"""argparse value types shared by every evcharge command.

A bad value becomes argparse's one-line usage error (exit 2) with the same
wording in every program, never a traceback.
"""
from __future__ import annotations

import argparse
import math


def number(text: str) -> float:
    """Any finite number."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"'{text}' is not a number") from None
    if not math.isfinite(value):
        raise argparse.ArgumentTypeError(f"'{text}' is not a finite number")
    return value


def positive(text: str) -> float:
    value = number(text)
    if value <= 0:
        raise argparse.ArgumentTypeError(f"'{text}' must be a number above 0")
    return value


def non_negative(text: str) -> float:
    value = number(text)
    if value < 0:
        raise argparse.ArgumentTypeError(f"'{text}' must be a number of 0 or more")
    return value


def percent(text: str) -> float:
    value = number(text)
    if not 0 <= value <= 100:
        raise argparse.ArgumentTypeError(f"'{text}' must be a percentage from 0 to 100")
    return value


def count(text: str) -> int:
    """A whole number above 0."""
    if not text.strip().isdigit() or int(text) == 0:
        raise argparse.ArgumentTypeError(f"'{text}' must be a whole number above 0")
    return int(text)
