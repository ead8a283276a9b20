"""2,000 seeded random and mutated frames never crash or hang the listener (issue 8, part 7).

Truncated messages, binary noise, huge fields, wrong delimiters, other separators, undecodable
bytes, shuffled and duplicated segments: each frame gets exactly one ACK (AA, AE or AR; CA, CE
or CR where a mutation valued MSH-15), in order, on four connections at once, every read with a
deadline; afterwards a good message is still accepted. Framing bytes are kept out of the
bodies: splitting frames is tested apart.
"""

from __future__ import annotations

import random
import threading
import time

import pytest

from tests.mllp.support import Client, ListenerThread, frame, msa
from tests.unit.hl7v2.messages import MSH, SPM_BREAST, ihc_loinc, ish_loinc, oru

pytestmark = [
    pytest.mark.slow,
    # python-hl7 0.4.5 calls the deprecated `logger.warn` for an unknown escape; under
    # `filterwarnings = error` that would raise inside the listener (in production it does not).
    pytest.mark.filterwarnings("ignore:The 'warn' method is deprecated:DeprecationWarning"),
]

SEED = 20250301
FRAMES = 2000
CONNECTIONS = 4
BASES = [
    oru(ihc_loinc("2+"), *ish_loinc("1.9", "4.1", "2.2")).encode(),
    oru(
        "OBX|1|CWE|52399.100004300^HER2 IHC^CAPECC||56335.100004300^Equivocal (Score 2+)^CAPECC"
        "||||||F"
    ).encode(),
    oru("OBX|1|TX|&GDT||HER2: Score 1+||||||F", "OBX|2|TX|&GDT||Ratio: 2.3||||||F").encode(),
    oru(SPM_BREAST, ihc_loinc("3+", status="C")).encode(),
    oru("OBX|1|NM|2345-7^Glucose^LN||95|mg/dL|||||F").encode(),
]


def mutate(rng: random.Random) -> bytes:
    base = rng.choice(BASES)
    kind = rng.randrange(10)
    if kind == 0:  # binary noise
        data = rng.randbytes(rng.randrange(0, 3000))
    elif kind == 1:  # truncated anywhere
        data = base[: rng.randrange(0, len(base))]
    elif kind == 2:  # flipped bytes
        data = bytearray(base)
        for _ in range(rng.randrange(1, 30)):
            data[rng.randrange(len(data))] = rng.randrange(256)
        data = bytes(data)
    elif kind == 3:  # a huge field (at most 1 MiB, one frame in 20)
        size = rng.choice([70_000, 300_000, 1 << 20]) if rng.random() < 0.2 else 5000
        at = rng.randrange(len(base))
        data = base[:at] + bytes([rng.choice(b"A9|^~\\&.+")]) * size + base[at:]
    elif kind == 4:  # wrong delimiters
        swaps = [(b"|", b"#"), (b"^", b"|"), (b"^~\\&", b"^~"), (b"|", b"||"), (b"\\", b"^")]
        old, new = rng.choice(swaps)
        data = base.replace(old, new, rng.choice([1, 2, -1]))
    elif kind == 5:  # other separators, a BOM, no final separator
        data = rng.choice([b"\r\n", b"\n", b"\n\r", b""]).join(base.split(b"\r"))
        data = (b"\xef\xbb\xbf" if rng.random() < 0.5 else b"") + data
    elif kind == 6:  # segments shuffled, dropped or repeated
        segments = base.split(b"\r")
        rng.shuffle(segments)
        data = b"\r".join(s for s in segments if rng.random() < 0.9) * rng.choice([1, 1, 2])
    elif kind == 7:  # undecodable bytes, or a character set we do not take
        data = base.replace(b"HER2", b"HER\xff\xfe2") if rng.random() < 0.5 else base
        data = data.replace(
            MSH.encode(), (MSH + "||||||" + rng.choice(["8859/1", "EBCDIC"])).encode()
        )
    elif kind == 8:  # escape sequences, broken and unbroken
        escape = rng.choice([b"\\X0D\\", b"\\X\\", b"\\.br\\", b"\\Zz\\", b"\\", b"\\F\\S\\"])
        at = rng.randrange(len(base))
        data = base[:at] + escape + base[at:]
    else:  # random printable text, sometimes starting like a message
        text = bytes(rng.randrange(32, 127) for _ in range(rng.randrange(0, 500)))
        data = (b"MSH|^~\\&|" if rng.random() < 0.5 else b"") + text
    return data.replace(b"\x0b", b"").replace(b"\x1c", b"")


def test_2000_random_and_mutated_frames_never_crash_or_hang(listener: ListenerThread) -> None:
    rng = random.Random(SEED)
    frames = [mutate(rng) for _ in range(FRAMES)]
    results: list[list[str]] = [[] for _ in range(CONNECTIONS)]
    failures: list[BaseException] = []
    started = time.monotonic()

    def feed(index: int) -> None:
        mine = frames[index::CONNECTIONS]
        chunks = random.Random(SEED + index)
        try:
            with Client(listener.port, timeout=30) as client:
                for data in mine:
                    framed = frame(data)
                    cut = chunks.randrange(len(framed))  # each frame in two packets
                    client.send_raw(framed[:cut])
                    client.send_raw(framed[cut:])
                    results[index].append(msa(client.read_ack())[1])
        except BaseException as error:  # reported below, with the connection it broke
            failures.append(error)

    threads = [threading.Thread(target=feed, args=(i,)) for i in range(CONNECTIONS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(240)
    elapsed = time.monotonic() - started

    assert not failures, failures[:3]
    assert sum(len(r) for r in results) == FRAMES
    codes = {code for r in results for code in r}
    assert codes <= {"AA", "AE", "AR", "CA", "CE", "CR"}, codes  # a flipped byte in MSH-15
    assert {"AA", "AE", "AR"} <= codes  # the mutations reach every row
    assert elapsed < 180, f"{elapsed:.0f} s for {FRAMES} frames"
    with Client(listener.port) as client:
        assert msa(client.ack(BASES[0]))[1] == "AA"
