"""evmonitor: the charge point's Monitor daemon (Raspberry Pi, CPython, systemd).

`evcharge monitor` -> evmonitor.cli.main(argv). Modules, one concern each:

    config          settings: TOML file < EVCHARGE_* env < flags (MonitorConfig)
    daemon          start order, signals, sd_notify (evhost.sdnotify), clean shutdown
    engine_link     TCP/serial link to the Engine, health checks, reconnect
    central_link    auth/register/heartbeat with Central, full-jitter reconnect
    engine_handlers / central_handlers   one method per received message type
    boundary        message -> handler, typed errors -> error_response
    station         the CP's behaviour: faults, commands, status reports, acks
    status          the CP's state and the status Central sees
    commands        commands waiting for the Engine's answer
    outbox          durable SQLite telemetry outbox (thinning, replay order)
    kafka_out       outbox -> Kafka cp-events, delete on delivery report
    framed          framed CBOR links keeping the raw payload bytes
    serial_port     the Engine link over pyserial
    backoff         full-jitter exponential back-off
    panel           --panel live text panel
"""
