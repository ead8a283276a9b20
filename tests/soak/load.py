"""The soak's load generator: POSTs every planned message over HTTP like an EHR feed would.

A feed retries a message answered 503 (Redis restarting) or lost on the wire (connection
refused, timeout) until it is answered; only a 202 counts as accepted, and its job id is kept.
A 500 is retried too, but counted: the API must never answer one. Bursts are eight threads
released by one barrier. An amendment waits (bounded) until its case's first messages are done.
"""

from __future__ import annotations

import random
import threading
import time
from collections import Counter
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

import httpx

from tests.soak.plan import Message, Plan

FHIR_JSON = "application/fhir+json"
SEND_DEADLINE = 300.0  # a message still unanswered after this is a finding, not a hang


@dataclass
class Sent:
    """What the feed saw: per message index, the job ids of its 202s (normally one)."""

    jobs: dict[int, list[str]] = field(default_factory=dict)
    statuses: Counter[str] = field(default_factory=Counter)
    unanswered: list[int] = field(default_factory=list)
    rejected: dict[int, str] = field(default_factory=dict)
    progress: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)

    def note(self, key: str) -> None:
        with self.lock:
            self.statuses[key] += 1


class Feed:
    def __init__(
        self, base_url: str, api_key: str, plan: Plan, job_done: Callable[[str], bool]
    ) -> None:
        self.base_url = base_url
        self.headers = {"Authorization": f"Bearer {api_key}", "Content-Type": FHIR_JSON}
        self.plan = plan
        self.job_done = job_done
        self.sent = Sent()
        self._local = threading.local()
        self._clients: list[httpx.Client] = []

    def _client(self) -> httpx.Client:
        client = getattr(self._local, "client", None)
        if client is None:
            client = self._local.client = httpx.Client(base_url=self.base_url, timeout=15.0)
            with self.sent.lock:
                self._clients.append(client)
        return client

    def post(self, index: int, message: Message) -> None:
        deadline, delay = time.monotonic() + SEND_DEADLINE, 0.1
        while True:
            try:
                response = self._client().post(
                    message.route, content=message.body.encode(), headers=self.headers
                )
                status = response.status_code
            except httpx.TransportError as error:
                status, response = 0, None
                self.sent.note(f"transport:{type(error).__name__}")
            if response is not None:
                self.sent.note(str(status))
            if status == 202 and response is not None:
                job_id = response.headers["Location"].rsplit("/", 1)[1]
                with self.sent.lock:
                    self.sent.jobs.setdefault(index, []).append(job_id)
                    self.sent.progress += 1
                return
            if status not in (0, 500, 502, 503, 504):
                with self.sent.lock:
                    self.sent.rejected[index] = (
                        f"{status}: {response.text[:300] if response else ''}"
                    )
                    self.sent.progress += 1
                return
            if time.monotonic() > deadline:
                with self.sent.lock:
                    self.sent.unanswered.append(index)
                    self.sent.progress += 1
                return
            time.sleep(delay * (0.5 + random.random() / 2))  # the feed's own backoff
            delay = min(delay * 2, 2.0)

    def _wait_for_case(self, message: Message) -> None:
        """An amendment follows its case's first report: wait (bounded) for those jobs."""
        deadline = time.monotonic() + SEND_DEADLINE
        for index in message.after:
            while time.monotonic() < deadline:
                with self.sent.lock:
                    jobs = list(self.sent.jobs.get(index, []))
                    settled = index in self.sent.rejected or index in self.sent.unanswered
                if settled or (jobs and all(self.job_done(j) for j in jobs)):
                    break
                time.sleep(0.2)

    def _burst(self, indexes: list[int]) -> None:
        barrier = threading.Barrier(len(indexes))

        def one(index: int) -> None:
            barrier.wait(timeout=30)
            self.post(index, self.plan.messages[index])

        threads = [threading.Thread(target=one, args=(i,)) for i in indexes]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()

    def run(self, senders: int) -> None:
        """Send every message; returns when each was answered (or gave up)."""
        burst_of = {group[0]: group for group in self.plan.bursts}
        in_burst = {i for group in self.plan.bursts for i in group}
        items: list[list[int]] = []
        for index in range(len(self.plan.messages)):
            if index in burst_of:
                items.append(burst_of[index])
            elif index not in in_burst:
                items.append([index])

        def send(item: list[int]) -> None:
            if len(item) > 1:
                self._burst(item)
                return
            message = self.plan.messages[item[0]]
            if message.after:
                self._wait_for_case(message)
            self.post(item[0], message)

        # Amendments wait for their case: their own threads, so the feed never stalls on them.
        waiting = [i for i in items if self.plan.messages[i[0]].after]
        with ThreadPoolExecutor(senders) as pool, ThreadPoolExecutor(senders) as later:
            futures = [(later if item in waiting else pool).submit(send, item) for item in items]
            try:
                for future in futures:
                    future.result()
            finally:
                for client in self._clients:
                    client.close()
