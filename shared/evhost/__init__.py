"""Host-side code every CPython tier shares (Monitor, Central, Driver, MQTT bridge):
command-line value types, 0600 secret files, client TLS contexts, port probes,
sd_notify for the systemd services (Monitor, Central).
Never on a board: the wire package beside it (evwire) is what boards share."""
