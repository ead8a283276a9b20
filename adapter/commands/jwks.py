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

EXIT_OK, EXIT_CANNOT_START = 0, 1


def register(commands: Any) -> None:
    """Add `jwks` to the subcommands of `her2-adapter`."""
    jwks = commands.add_parser(
        "jwks",
        help="print the public JWKS of FHIR_OAUTH_PRIVATE_KEY, to register with the EHR",
        description="Print the JSON Web Key Set the EHR verifies the adapter's signed token "
        "requests with (SMART Backend Services). Settings come from the environment (README).",
    )
    jwks.set_defaults(run=run)


def run(_: argparse.Namespace) -> int:
    from pydantic import ValidationError

    from adapter.errors import ClientKeyError
    from adapter.oauth_client import public_jwks
    from adapter.settings import Settings

    try:
        key_set = public_jwks(Settings())
    except ValidationError as error:
        sys.stderr.write(f"her2-adapter jwks: settings: {error.errors()[0]['msg']}\n")
        return EXIT_CANNOT_START
    except ClientKeyError as error:
        sys.stderr.write(f"her2-adapter jwks: {error}\n")
        return EXIT_CANNOT_START
    sys.stdout.write(json.dumps(key_set, indent=2) + "\n")
    return EXIT_OK
