"""Subcommands of `her2-adapter` that run the service (serve, demo); each registers itself in
`adapter.cli.build_parser` and imports its heavy dependencies only when it runs."""

from typing import Final

PROG: Final = "her2-adapter"  # the console script, as every command names itself
