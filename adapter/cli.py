"""The `her2-adapter` command line: one subcommand per module of `adapter/commands/`.

`interpret` (the contract's command line), `qa`, `serve`, `worker`, `mllp`, `backfill`,
`demo`, `dlq`, `alive` and `jwks` register themselves in `build_parser`. Every command that
cannot start says why in one line and exits 1 (`adapter.commands.startup`); a reader that went
away (`| head`) ends it quietly.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence

from adapter import __version__
from adapter.commands import (
    PROG,
    alive,
    backfill,
    demo,
    dlq,
    interpret,
    jwks,
    mllp,
    qa,
    serve,
    startup,
    worker,
)

EXIT_CANNOT_START, EXIT_BAD_INPUT, EXIT_INTERRUPTED = 1, 2, 130


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the console script; returns the exit status."""
    args = build_parser().parse_args(argv)
    try:
        status: int = args.run(args)
    except startup.CannotStart as error:
        sys.stderr.write(f"{args.parser.prog}: {error}\n")
        return EXIT_CANNOT_START
    except KeyboardInterrupt:
        return EXIT_INTERRUPTED
    except BrokenPipeError:  # the reader went away (`| head`): stop quietly, as cat does
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return EXIT_BAD_INPUT
    return status


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog=PROG, description="HER2 IHC/ISH results in FHIR -> guideline HER2 status in FHIR."
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    interpret.register(commands)
    serve.register(commands)
    demo.register(commands)
    worker.register(commands)
    dlq.register(commands)
    mllp.register(commands)
    alive.register(commands)
    jwks.register(commands)
    qa.register(commands)
    backfill.register(commands)
    return parser


if __name__ == "__main__":
    sys.exit(main())
