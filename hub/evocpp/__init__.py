"""OCPP 1.6J gateway: commercial charge points join Central over WebSocket (docs/OCPP.md)."""
