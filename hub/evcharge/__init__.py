"""The `evcharge` command: one console script, a subcommand per program."""
