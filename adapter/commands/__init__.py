"""Subcommands of `her2-adapter` that run the service (serve, demo); each registers itself in
`adapter.cli.build_parser` and imports its heavy dependencies only when it runs."""
