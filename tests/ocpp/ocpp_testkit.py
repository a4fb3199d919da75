"""What the OCPP tests share besides fixtures (a module of its own: `from conftest
import` is ambiguous under --import-mode=importlib)."""

PRICE = 0.40  # Central's --price-per-kwh in these tests
