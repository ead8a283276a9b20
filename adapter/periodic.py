"""A daemon thread that runs one action at a fixed interval until it is stopped.

The workers' and listeners' heartbeats and the workers' sweeper are such threads. The action
runs first at start (unless `first_now` is False), then every `interval_seconds`; a failing run
is logged and the next one still comes, so a background duty outlives a passing Redis outage.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable

log = logging.getLogger("her2.periodic")


class Periodic:
    def __init__(
        self,
        name: str,
        interval_seconds: float,
        action: Callable[[], None],
        *,
        first_now: bool = True,
        on_stop: Callable[[], None] | None = None,
    ) -> None:
        self._name = name
        self._interval = interval_seconds
        self._action = action
        self._first_now = first_now
        self._on_stop = on_stop
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)

    def start(self) -> Periodic:
        self._thread.start()
        return self

    def stop(self, timeout: float = 5.0) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout=timeout)

    def _run(self) -> None:
        if self._first_now:
            self._once()
        while not self._stop.wait(self._interval):
            self._once()
        if self._on_stop is not None:
            self._once(self._on_stop)

    def _once(self, action: Callable[[], None] | None = None) -> None:
        try:
            (action or self._action)()
        except Exception as error:  # a background duty must outlive any one failed run
            log.warning("%s: a run failed", self._name, extra={"error": type(error).__name__})
