# The Engine's entry point, the same file on a board, on the MicroPython unix
# port and on CPython: load the JSON config (path in sys.argv[1], else
# config.json on the board's filesystem), join Wi-Fi on a board if the config
# says so, and run the Engine. Exit codes: 0 stopped, 1 hardware or link
# could not be opened, 2 bad config.
import sys


def load_config(path):
    """The checked config, or None after logging why not."""
    from evengine.config import ConfigError, load
    from evwire.trace import log

    try:
        return load(path)
    except ConfigError as exc:
        log("error", "engine: %s" % exc)
        return None


def forget_config_checker():
    # Its tables are needed once, at boot; on a board they are worth several
    # KB of heap for the rest of the session.
    sys.modules.pop("evengine.config", None)
    import evengine

    if "config" in evengine.__dict__:
        delattr(evengine, "config")


def main(argv):
    config = load_config(argv[1] if len(argv) > 1 else "config.json")
    if config is None:
        return 2
    forget_config_checker()
    if config["wifi"] is not None:
        from evengine.wifi import connect

        if not connect(config["wifi"]):
            return 1
    from evengine.app import run

    return run(config)


sys.exit(main(sys.argv))
