"""`her2-adapter jwks`, run as the installed console script: the public key set an operator
registers with the EHR, or one line saying why there is none."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

from joserfc.jwk import ECKey

SCRIPT = shutil.which("her2-adapter", path=str(Path(sys.executable).parent)) or "her2-adapter"


def jwks(**env: str) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith("FHIR_")}
    return subprocess.run(
        [SCRIPT, "jwks"], capture_output=True, text=True, timeout=60, env=clean | env, check=False
    )


def test_prints_the_public_key_set_of_the_configured_key(tmp_path: Path) -> None:
    key = ECKey.generate_key("P-384")
    path = tmp_path / "adapter.pem"
    path.write_bytes(key.as_pem(private=True))
    done = jwks(
        FHIR_OAUTH_TOKEN_URL="https://ehr.example/token",
        FHIR_OAUTH_CLIENT_ID="her2-adapter",
        FHIR_OAUTH_PRIVATE_KEY=str(path),
        FHIR_OAUTH_KEY_ID="2026-01",
        FHIR_OAUTH_ALGORITHM="ES384",
    )
    assert done.returncode == 0, done.stderr
    [published] = json.loads(done.stdout)["keys"]
    assert published == {
        **key.as_dict(private=False),
        "kid": "2026-01",
        "alg": "ES384",
        "use": "sig",
    }
    assert "d" not in published


def test_without_a_key_it_says_so_in_one_line() -> None:
    done = jwks()
    assert (done.returncode, done.stdout) == (1, "")
    assert (
        done.stderr
        == "her2-adapter jwks: FHIR_OAUTH_PRIVATE_KEY and FHIR_OAUTH_KEY_ID are not set\n"
    )
