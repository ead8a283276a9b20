"""The long form: `python -m tests.contract.run --cases 100000 --seed 7`.

Generates `--cases` cases in batches of `--batch`, sends every batch through
`interpret --ndjson` and `interpret --hl7v2` (one process each per batch), and the first
`--service-cases` of them through a real serve + mllp + worker (HTTP and MLLP, on the tests'
Redis: TEST_REDIS, database TEST_CONTRACT_REDIS_DB). Then the type traps: once through the
command line, `--trap-rounds` times through HTTP and MLLP. Prints the tally per door (cases,
right, wrong, unsafe, detail, invariant, refused-with-field, refused-without-field, 5xx,
internal, missing), the differential and the traps; `--out FILE` keeps the full report.
Exit status 0 when every case was right and every trap answered as it must, else 1.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from contextlib import ExitStack
from pathlib import Path

from tests.contract.batch import make_batch
from tests.contract.cli_doors import fhir_door, v2_door
from tests.contract.grammar import SeededChooser
from tests.contract.service import Service, running_service
from tests.contract.service_doors import http_door, mllp_door
from tests.contract.trap_doors import fhir_cli, fhir_http, tally_traps, v2_cli, v2_mllp
from tests.contract.traps import fhir_traps
from tests.contract.v2_traps import v2_traps
from tests.contract.verdicts import Tally


def arguments(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m tests.contract.run", description=__doc__)
    parser.add_argument("--cases", type=int, default=100_000, help="cases per CLI door")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--batch", type=int, default=2_000, help="cases per CLI process")
    parser.add_argument("--service-cases", type=int, default=10_000, help="0: no service")
    parser.add_argument("--trap-rounds", type=int, default=10, help="trap sets for the service")
    parser.add_argument("--out", type=Path, default=None, help="write the full report here")
    return parser.parse_args(argv)


def _say(text: str) -> None:
    print(text, file=sys.stderr, flush=True)


def _traps(tally: Tally, workdir: Path, service: Service | None, rounds: int) -> None:
    """The traps once through the command line, `rounds` times (new ids) through the service."""
    fhir, v2 = fhir_traps(0), v2_traps(0)
    ndjson, files = fhir_cli(fhir, workdir)
    tally_traps(tally, fhir, {"cli-fhir --ndjson": ndjson, "cli-fhir files": files})
    tally_traps(tally, v2, {"cli-v2": v2_cli(v2, workdir)})
    if service is None:
        return
    for n in range(1, rounds + 1):
        fhir, v2 = fhir_traps(n), v2_traps(n)
        tally_traps(tally, fhir, {"http": fhir_http(fhir, service)})
        tally_traps(tally, v2, {"mllp": v2_mllp(v2, service)})


def main(argv: list[str] | None = None) -> int:
    args = arguments(argv)
    tally, started = Tally(), time.monotonic()
    try:
        _run(args, tally, started)
    finally:  # a door that broke still leaves the tally of what ran
        print(tally.table())
        print(
            f"differential: {tally.compared} cases through several doors, "
            f"{len(tally.disagreements())} differ; {time.monotonic() - started:.0f} s; "
            f"seed {args.seed}"
        )
        if args.out:
            args.out.write_text(tally.report() + "\n", encoding="utf-8")
    return 0 if tally.bad() == 0 and tally.bad_traps() == 0 and not tally.differ else 1


def _run(args: argparse.Namespace, tally: Tally, started: float) -> None:
    with ExitStack() as stack:
        workdir = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="her2-contract-")))
        service = stack.enter_context(running_service(workdir)) if args.service_cases else None
        for start in range(0, args.cases, args.batch):
            batch = make_batch(args.seed, min(args.batch, args.cases - start), start)
            fhir_door(batch, workdir, tally)
            v2_door(batch, workdir, tally, args.seed + start)
            if service is not None and start < args.service_cases:
                chooser = SeededChooser(f"{args.seed}:{start}:service")
                http_door(chooser, batch, service, tally)
                mllp_door(chooser, batch, service, tally)
            tally.fold()  # the differential of this batch; its answers are dropped
            _say(f"{start + len(batch.cases)} cases, {time.monotonic() - started:.0f} s")
        _traps(tally, workdir, service, args.trap_rounds)


if __name__ == "__main__":
    sys.exit(main())
