"""`her2-adapter jwks`: print the JWKS to register with the EHR (SMART Backend Services).

The public half of FHIR_OAUTH_PRIVATE_KEY as a JSON Web Key Set: `kid` FHIR_OAUTH_KEY_ID, `alg`
FHIR_OAUTH_ALGORITHM, `use` sig; never a private member. The operator hands this file to the
EHR (or serves it at the JWKS URL the EHR was given). Exit 0; 1 with one line when the settings
are inconsistent or the key is missing or unusable.
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from adapter.commands import startup

EXIT_OK = 0


def register(commands: Any) -> None:
    """Add `jwks` to the subcommands of `her2-adapter`."""
    jwks = commands.add_parser(
        "jwks",
        help="print the public JWKS of FHIR_OAUTH_PRIVATE_KEY, to register with the EHR",
        description="Print the JSON Web Key Set the EHR verifies the adapter's signed token "
        "requests with (SMART Backend Services). Settings come from the environment (README).",
    )
    jwks.set_defaults(run=run, parser=jwks)


def run(_: argparse.Namespace) -> int:
    from adapter.errors import ClientKeyError
    from adapter.oauth_client import public_jwks

    try:
        key_set = public_jwks(startup.settings())
    except ClientKeyError as error:
        raise startup.CannotStart(str(error)) from None
    sys.stdout.write(json.dumps(key_set, indent=2) + "\n")
    return EXIT_OK
