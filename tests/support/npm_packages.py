"""The tests' npm tools, installed by the tests themselves from committed lock files.

A tool directory (tests/fhir_server, tests/compose) holds a package.json and its
package-lock.json; `ensure_npm_packages(directory)` runs `npm ci` there (bounded) unless
node_modules was installed from that same lock file: `node_modules/.install-stamp` holds the
lock file's sha256, as `tests/fhir_server/install` (the same install, by hand) writes it.
"""

from __future__ import annotations

import contextlib
import hashlib
import shutil
import subprocess
from pathlib import Path

INSTALL_TIMEOUT_SECONDS = 600


class NpmInstallFailed(RuntimeError):
    """node or npm is missing, or `npm ci` failed; the message holds npm's output."""


def ensure_npm_packages(directory: Path) -> None:
    """Install `directory`'s locked npm packages unless they already are."""
    stamp = directory / "node_modules" / ".install-stamp"
    wanted = hashlib.sha256((directory / "package-lock.json").read_bytes()).hexdigest()
    with contextlib.suppress(OSError):
        if stamp.read_text().strip() == wanted:
            return
    npm = shutil.which("npm")
    if npm is None or shutil.which("node") is None:
        raise NpmInstallFailed(f"{directory}: node and npm (Node.js >= 20.19) are needed")
    try:
        ran = subprocess.run(
            [npm, "ci", "--prefix", str(directory), "--no-audit", "--no-fund", "--loglevel=error"],
            capture_output=True,
            text=True,
            timeout=INSTALL_TIMEOUT_SECONDS,
            check=False,
        )
    except subprocess.TimeoutExpired as error:
        raise NpmInstallFailed(f"{directory}: npm ci took over {error.timeout} s") from error
    if ran.returncode != 0:
        raise NpmInstallFailed(f"{directory}: npm ci failed ({ran.returncode}):\n{ran.stderr}")
    stamp.write_text(wanted + "\n")
