"""Chaos runner: random faults on whole networks of real processes (evcharge chaos)."""
