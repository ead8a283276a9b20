"""Hypothesis strategies for hostile requests to the API (issue 6, item 3).

Each strategy draws a `Probe`: one HTTP request (method, path, headers, body as bytes or as a
chunk iterator without Content-Length) and what it may earn. `hostile=True` means the body is
bad by construction, so anything but a refusal is a bug; mutated valid messages may still be
valid (deleting `Observation.id`, say), so a 2xx for them is checked against an independent
validator (`genuinely_valid`) instead.

The families: wrong types at every level, missing and extra fields, huge and odd numbers,
NaN/Infinity, deep nesting, 1 MB strings, invalid UTF-8 and stray bytes, BOMs, bodies over the
size limit (declared and streamed), wrong/missing/garbled content types, Bundles of 10,000
entries, duplicate keys, random JSON, and random junk on every route and method.
"""

from __future__ import annotations

import codecs
import json
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from email.message import Message
from pathlib import Path
from typing import Any, Final

from fhir.resources.R4B.bundle import Bundle
from fhir.resources.R4B.observation import Observation
from hypothesis import strategies as st

from adapter.service.admission import MAX_DEPTH, MAX_ENTRIES
from tests.builders import her2_bundle, ihc_observation, ish_observation, specimen

ROOT = Path(__file__).resolve().parents[2]
KEY: Final = "fuzz-key-Rk5o"
AUTH: Final = {"Authorization": f"Bearer {KEY}"}
FHIR_JSON: Final = "application/fhir+json"
ROUTES: Final = ("/fhir", "/fhir/Observation")


@dataclass
class Probe:
    family: str
    method: str
    path: str
    headers: dict[str, str]
    body: bytes | Callable[[], Iterator[bytes]] = b""
    hostile: bool = True  # a 2xx is a bug whatever the body
    notes: dict[str, Any] = field(default_factory=dict)

    def __repr__(self) -> str:  # hypothesis prints this on failure; keep it short
        size = len(self.body) if isinstance(self.body, bytes) else "stream"
        head = self.body[:200] if isinstance(self.body, bytes) else b""
        return (
            f"Probe({self.family}, {self.method} {self.path}, headers={self.headers}, "
            f"size={size}, head={head!r}, notes={self.notes})"
        )


# --- the valid messages the mutations start from ------------------------------------------------


def _load(path: Path) -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    return loaded


def _plain(message: dict[str, Any]) -> dict[str, Any]:
    """Builders hold Decimal; round-trip through JSON numbers."""
    plain: dict[str, Any] = json.loads(json.dumps(message, default=float))
    return plain


VALID_MESSAGES: Final[tuple[dict[str, Any], ...]] = (
    *(_load(p) for p in sorted((ROOT / "examples").glob("*/*.json"))),
    _plain(ihc_observation("3+")),
    _plain(ish_observation("2.2", her2="5.0", cep17="2.3")),
    _plain(
        her2_bundle(specimen(), ihc_observation("2+"), ish_observation("1.6", her2="4.8"), urn=True)
    ),
)


def route_of(message: dict[str, Any]) -> str:
    return "/fhir/Observation" if message.get("resourceType") == "Observation" else "/fhir"


def paths_of(value: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    """Every path to a value inside `value` (dict keys and list indices), the root excluded."""
    found: list[tuple[Any, ...]] = []
    items = (
        value.items()
        if isinstance(value, dict)
        else enumerate(value)
        if isinstance(value, list)
        else ()
    )
    for key, child in items:
        path = (*prefix, key)
        found.append(path)
        found.extend(paths_of(child, path))
    return found


PATHS: Final = tuple(tuple(paths_of(m)) for m in VALID_MESSAGES)


def _copy(value: Any) -> Any:
    return json.loads(json.dumps(value))


def _parent(message: Any, path: tuple[Any, ...]) -> Any:
    for key in path[:-1]:
        message = message[key]
    return message


# --- raw JSON literals json.dumps cannot write ----------------------------------------------------


class Raw:
    """A literal spliced into the JSON text as written (NaN, 1e400, a 500-digit integer)."""

    def __init__(self, text: str) -> None:
        self.text = text


def dumps(value: Any) -> bytes:
    raws: list[str] = []

    def default(obj: Any) -> Any:
        if isinstance(obj, Raw):
            raws.append(obj.text)
            return f"@@RAW{len(raws) - 1}@@"
        raise TypeError(type(obj).__name__)

    text = json.dumps(value, default=default, ensure_ascii=False)
    for index, raw in enumerate(raws):
        text = text.replace(f'"@@RAW{index}@@"', raw, 1)
    return text.encode("utf-8", "surrogatepass")


ODD_NUMBERS: Final = (
    "1e400",
    "-1e400",
    "1E+99999",
    "1e-400",
    "-0",
    "-0.0",
    "0e0",
    "1" + "0" * 400,
    "-" + "9" * 4000,
    "1" + "0" * 5000,
    "0." + "0" * 5000 + "1",
    "123456789012345678901234567890.5",
    "2.0000000000000000000000000000001",
    "1.99999999999999999999999999",
    "9007199254740993",
    "-9223372036854775809",
    "18446744073709551616",
)
NOT_NUMBERS: Final = ("NaN", "-NaN", "Infinity", "-Infinity", "+1", "01", ".5", "1.", "0x10")

json_scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(allow_nan=False, allow_infinity=False),
    st.text(max_size=30),
    st.sampled_from(ODD_NUMBERS).map(Raw),
)
json_values = st.recursive(
    json_scalars,
    lambda inner: st.one_of(
        st.lists(inner, max_size=4), st.dictionaries(st.text(max_size=12), inner, max_size=4)
    ),
    max_leaves=12,
)
junk_values = st.one_of(
    json_values,
    st.sampled_from(["", " ", "\x00", "\ud800", "3+", "Observation", "Bundle", "urn:uuid:"]),
    st.just([]),
    st.just({}),
    st.integers(min_value=1, max_value=3).map(lambda n: "é" * (n * 100_000)),
)


def _message() -> st.SearchStrategy[int]:
    return st.integers(min_value=0, max_value=len(VALID_MESSAGES) - 1)


def _mutation(family: str, mutate: Callable[[Any, tuple[Any, ...], Any], None], values: Any) -> Any:
    @st.composite
    def build(draw: st.DrawFn) -> Probe:
        index = draw(_message())
        message = _copy(VALID_MESSAGES[index])
        path = draw(st.sampled_from(PATHS[index]))
        mutate(message, path, draw(values))
        return Probe(
            family,
            "POST",
            route_of(VALID_MESSAGES[index]),
            {**AUTH, "Content-Type": FHIR_JSON},
            dumps(message),
            hostile=False,
            notes={"path": ".".join(map(str, path))},
        )

    return build()


def _replace(message: Any, path: tuple[Any, ...], value: Any) -> None:
    _parent(message, path)[path[-1]] = value


def _delete(message: Any, path: tuple[Any, ...], _: Any) -> None:
    parent = _parent(message, path)
    del parent[path[-1]]


def _add(message: Any, path: tuple[Any, ...], extra: tuple[str, Any]) -> None:
    target = _parent(message, path)
    if isinstance(target, dict):
        target[extra[0]] = extra[1]
    else:
        target.append({extra[0]: extra[1]})


wrong_types = _mutation("wrong-type", _replace, junk_values)
missing_fields = _mutation("missing-field", _delete, st.none())
extra_fields = _mutation(
    "extra-field",
    _add,
    st.tuples(
        st.one_of(st.text(max_size=20), st.sampled_from(["resourceType", "_value"])), junk_values
    ),
)
odd_numbers = _mutation("odd-number", _replace, st.sampled_from(ODD_NUMBERS).map(Raw))


@st.composite
def not_numbers(draw: st.DrawFn) -> Probe:
    """NaN, Infinity and other non-JSON number literals: never JSON, never accepted."""
    index = draw(_message())
    message = _copy(VALID_MESSAGES[index])
    path = draw(st.sampled_from(PATHS[index]))
    _replace(message, path, Raw(draw(st.sampled_from(NOT_NUMBERS))))
    return Probe(
        "not-a-number",
        "POST",
        route_of(message),
        {**AUTH, "Content-Type": FHIR_JSON},
        dumps(message),
        notes={"path": ".".join(map(str, path))},
    )


@st.composite
def deep_nesting(draw: st.DrawFn) -> Probe:
    depth = draw(
        st.one_of(
            st.integers(MAX_DEPTH - 2, MAX_DEPTH + 5),
            st.sampled_from([1_000, 10_000, 100_000, 400_000]),
        )
    )
    opener, closer = draw(st.sampled_from([("[", "]"), ('{"a":', "}"), ('{"extension":[', "]}")]))
    inner = opener * depth + "1" + closer * depth
    where = draw(st.sampled_from(["top", "value", "unclosed"]))
    if where == "top":
        text = inner
    elif where == "value":
        text = '{"resourceType":"Observation","status":"final","code":' + inner + "}"
    else:
        text = '{"resourceType":"Bundle","entry":' + opener * depth
    # Nesting below MAX_DEPTH may still be refused as invalid FHIR; it is never a valid message.
    return Probe(
        "deep-nesting",
        "POST",
        draw(st.sampled_from(ROUTES)),
        {**AUTH, "Content-Type": FHIR_JSON},
        text.encode(),
        notes={"depth": depth},
    )


@st.composite
def long_strings(draw: st.DrawFn) -> Probe:
    index = draw(_message())
    message = _copy(VALID_MESSAGES[index])
    string_paths = [p for p in PATHS[index] if isinstance(_parent(message, p)[p[-1]], str)]
    path = draw(st.sampled_from(string_paths))
    char = draw(st.sampled_from(["A", "é", "\u2028", "\\", '"', "\U0001f600", "\x7f"]))
    size = draw(st.sampled_from([64 * 1024, 512 * 1024, 1024 * 1024]))
    _replace(message, path, char * (size // len(char.encode())))
    return Probe(
        "long-string",
        "POST",
        route_of(message),
        {**AUTH, "Content-Type": FHIR_JSON},
        dumps(message),
        hostile=False,
        notes={"path": ".".join(map(str, path))},
    )


@st.composite
def bad_bytes(draw: st.DrawFn) -> Probe:
    """Invalid UTF-8, stray bytes, surrogates, control characters spliced into a valid body."""
    index = draw(_message())
    body = bytearray(dumps(VALID_MESSAGES[index]))
    stray = draw(
        st.one_of(
            st.binary(min_size=1, max_size=8),
            st.sampled_from(
                [
                    b"\xff",
                    b"\xc0\x80",
                    b"\xed\xa0\x80",
                    b"\xf8\x88\x80\x80\x80",
                    b"\x00",
                    b"\xe2\x82",
                    b"\x80",
                    b"\xf4\x90\x80\x80",
                ]
            ),
        )
    )
    at = draw(st.integers(0, len(body)))
    body[at:at] = stray
    return Probe(
        "bad-bytes",
        "POST",
        route_of(VALID_MESSAGES[index]),
        {**AUTH, "Content-Type": FHIR_JSON},
        bytes(body),
        hostile=False,
        notes={"at": at, "stray": stray},
    )


@st.composite
def boms(draw: st.DrawFn) -> Probe:
    index = draw(_message())
    text = dumps(VALID_MESSAGES[index]).decode()
    kind = draw(st.sampled_from(["utf8", "utf8-twice", "utf16", "utf16be", "utf32", "middle"]))
    body = {
        "utf8": codecs.BOM_UTF8 + text.encode(),  # tolerated: a valid message
        "utf8-twice": codecs.BOM_UTF8 * 2 + text.encode(),
        "utf16": text.encode("utf-16"),
        "utf16be": codecs.BOM_UTF16_BE + text.encode("utf-16-be"),
        "utf32": text.encode("utf-32"),
        "middle": text[:1].encode() + codecs.BOM_UTF8 + text[1:].encode(),
    }[kind]
    return Probe(
        "bom",
        "POST",
        route_of(VALID_MESSAGES[index]),
        {**AUTH, "Content-Type": FHIR_JSON},
        body,
        hostile=kind != "utf8",
        notes={"bom": kind},
    )


def oversized(limit: int) -> st.SearchStrategy[Probe]:
    @st.composite
    def build(draw: st.DrawFn) -> Probe:
        size = limit + draw(st.sampled_from([1, 2, 1000, 64 * 1024, limit]))
        streamed = draw(st.booleans())
        path = draw(st.sampled_from(ROUTES))
        filler = b'{"resourceType":"Bundle","type":"collection","x":"' + b"A" * size + b'"}'
        if not streamed:
            return Probe(
                "over-size",
                "POST",
                path,
                {**AUTH, "Content-Type": FHIR_JSON},
                filler,
                notes={"size": len(filler)},
            )
        chunk = draw(st.sampled_from([1024, 64 * 1024, 1024 * 1024]))

        def chunks() -> Iterator[bytes]:  # no Content-Length: Transfer-Encoding chunked
            for start in range(0, len(filler), chunk):
                yield filler[start : start + chunk]

        return Probe(
            "over-size-streamed",
            "POST",
            path,
            {**AUTH, "Content-Type": FHIR_JSON},
            chunks,
            notes={"size": len(filler), "chunk": chunk},
        )

    return build()


_FHIR_ID: Final = re.compile(r"^[A-Za-z0-9\-.]{1,64}$")
ACCEPTED_TYPES: Final = frozenset({"application/fhir+json", "application/json"})


def acceptable_content_type(value: str | None) -> bool:
    """Independent reading of Content-Type (the email parser): FHIR JSON or JSON, UTF-8."""
    if value is None:
        return False
    header = Message()
    header["Content-Type"] = value
    charset = header.get_param("charset") or "utf-8"
    return header.get_content_type() in ACCEPTED_TYPES and str(charset).lower() in ("utf-8", "utf8")


@st.composite
def content_types(draw: st.DrawFn) -> Probe:
    index = draw(_message())
    value = draw(
        st.one_of(
            st.none(),
            st.sampled_from(
                [
                    "",
                    "text/plain",
                    "application/xml",
                    "application/fhir+xml",
                    "application/x-www-form-urlencoded",
                    "multipart/form-data; boundary=x",
                    "application/json; charset=latin-1",
                    "application/fhir+json; charset=utf-16",
                    "application/fhir+json;charset=UTF-8",
                    "APPLICATION/FHIR+JSON",
                    'application/json ; charset="utf-8"',
                    "application/",
                    "/json",
                    ";;;",
                    "application/fhir+json; charset=",
                    "application/jsonx",
                    "application/fhir+json, text/plain",
                    "application/fhir+json; charset=utf8; q=1",
                    "*/*",
                    "application/*",
                    "json",
                ]
            ),
            st.text(st.characters(min_codepoint=0x20, max_codepoint=0x7E), max_size=40),
        )
    )
    headers = dict(AUTH)
    if value is not None:
        headers["Content-Type"] = value
    return Probe(
        "content-type",
        "POST",
        route_of(VALID_MESSAGES[index]),
        headers,
        dumps(VALID_MESSAGES[index]),
        hostile=False,
        notes={"content_type": value},
    )


@st.composite
def huge_bundles(draw: st.DrawFn) -> Probe:
    count = draw(st.sampled_from([MAX_ENTRIES + 1, 5_000, 10_000]))
    entry = draw(
        st.sampled_from(
            [
                {"resource": {"resourceType": "Observation"}},
                {"fullUrl": "Observation/x"},
                {},
                1,
                VALID_MESSAGES[-1]["entry"][1],
            ]
        )
    )
    body = {"resourceType": "Bundle", "type": "collection", "entry": [entry] * count}
    return Probe(
        "huge-bundle",
        "POST",
        "/fhir",
        {**AUTH, "Content-Type": FHIR_JSON},
        dumps(body),
        notes={"entries": count},
    )


@st.composite
def duplicate_keys(draw: st.DrawFn) -> Probe:
    index = draw(_message())
    text = dumps(VALID_MESSAGES[index]).decode()
    key = draw(st.sampled_from(["resourceType", "status", "code", "entry", "type", "value"]))
    value = dumps(draw(junk_values)).decode("utf-8", "surrogatepass")
    where = draw(st.sampled_from(["front", "back"]))
    body = (
        ("{" + f'"{key}":{value},' + text[1:])
        if where == "front"
        else (text[:-1] + f',"{key}":{value}' + "}")
    )
    return Probe(
        "duplicate-key",
        "POST",
        route_of(VALID_MESSAGES[index]),
        {**AUTH, "Content-Type": FHIR_JSON},
        body.encode("utf-8", "surrogatepass"),
        hostile=False,
        notes={"key": key, "where": where},
    )


@st.composite
def random_json(draw: st.DrawFn) -> Probe:
    value = draw(
        st.one_of(
            json_values,
            st.dictionaries(st.text(max_size=12), json_values, max_size=5).map(
                lambda d: {"resourceType": "Observation", **d}
            ),
            st.dictionaries(st.text(max_size=12), json_values, max_size=5).map(
                lambda d: {"resourceType": "Bundle", "type": "collection", **d}
            ),
        )
    )
    return Probe(
        "random-json",
        "POST",
        draw(st.sampled_from(ROUTES)),
        {**AUTH, "Content-Type": FHIR_JSON},
        dumps(value),
    )


METHODS: Final = ("GET", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", "HEAD", "TRACE")
KNOWN_PATHS: Final = (
    "/fhir",
    "/fhir/",
    "/fhir/Observation",
    "/fhir/Observation/1",
    "/jobs/x",
    "/jobs/",
    "/jobs/" + "a" * 65,
    "/jobs/../metrics",
    "/metadata",
    "/health/live",
    "/health/ready",
    "/metrics",
    "/",
    "/docs",
    "/openapi.json",
    "/fhir?site=breast",
    "/fhir?site=moon",
    "/fhir/Observation?site=%00",
    "/%2e%2e/etc/passwd",
    "/fhir/Observation?_format=xml",
    "/jobs/%ff%fe",
    "/fhir//Observation",
)
header_text = st.text(st.characters(min_codepoint=0x20, max_codepoint=0x7E), max_size=60)


@st.composite
def junk_requests(draw: st.DrawFn) -> Probe:
    """Random method, route, headers and body. GETs of the open and keyed read routes may
    answer 2xx; nothing else may."""
    method = draw(st.sampled_from(METHODS))
    path = draw(
        st.one_of(
            st.sampled_from(KNOWN_PATHS),
            st.text(
                st.characters(min_codepoint=0x21, max_codepoint=0x7E, exclude_characters="#?%"),
                max_size=30,
            ).map(lambda s: "/" + s),
        )
    )
    headers: dict[str, str] = {}
    auth = draw(st.sampled_from(["key", "none", "wrong", "garbled"]))
    if auth == "key":
        headers.update(AUTH)
    elif auth == "wrong":
        headers["Authorization"] = "Bearer " + draw(header_text.filter(lambda s: s.strip() != KEY))
    elif auth == "garbled":
        headers["Authorization"] = draw(header_text)
    if draw(st.booleans()):
        headers["Content-Type"] = draw(st.one_of(st.just(FHIR_JSON), header_text))
    body = draw(st.one_of(st.binary(max_size=300), json_values.map(dumps)))
    if method in ("GET", "HEAD", "OPTIONS", "DELETE", "TRACE") and draw(st.booleans()):
        body = b""
    return Probe(
        "junk",
        method,
        path,
        headers,
        body,
        hostile=method != "GET" and method != "HEAD",
        notes={"auth": auth},
    )


@st.composite
def bad_keys(draw: st.DrawFn) -> Probe:
    """A valid message without a key, with a wrong one, or with a garbled Authorization."""
    index = draw(_message())
    value = draw(
        st.one_of(
            st.none(),
            st.sampled_from(
                [
                    "",
                    "Bearer",
                    "Bearer ",
                    "Basic " + KEY,
                    "bearer" + KEY,
                    KEY,
                    "Bearer " + KEY + "x",
                    "Bearer " + KEY[:-1],
                    "Bearer  " + KEY[::-1],
                    "Token " + KEY,
                ]
            ),
            header_text.map(lambda s: "Bearer " + s),
        )
    )
    headers = {"Content-Type": FHIR_JSON}
    if value is not None:
        headers["Authorization"] = value
    return Probe(
        "bad-key",
        "POST",
        route_of(VALID_MESSAGES[index]),
        headers,
        dumps(VALID_MESSAGES[index]),
        notes={"authorization": value},
    )


def hostile_requests(limit: int) -> st.SearchStrategy[Probe]:
    """Every family, each about equally likely."""
    return st.one_of(
        wrong_types,
        missing_fields,
        extra_fields,
        odd_numbers,
        not_numbers(),
        deep_nesting(),
        long_strings(),
        bad_bytes(),
        boms(),
        oversized(limit),
        content_types(),
        huge_bundles(),
        duplicate_keys(),
        random_json(),
        junk_requests(),
        bad_keys(),
    )


def genuinely_valid(probe: Probe) -> bool:
    """An independent judgement of a POST answered 2xx: strict UTF-8 JSON (no NaN, no
    duplicate-key games), the route's resource, valid by fhir.resources' R4B model, a media type
    the email parser reads as FHIR JSON or JSON, and a key."""
    if (
        not isinstance(probe.body, bytes)
        or probe.headers.get("Authorization") != AUTH["Authorization"]
    ):
        return False
    if not acceptable_content_type(probe.headers.get("Content-Type")):
        return False
    try:
        text = probe.body.decode("utf-8").removeprefix("\ufeff")
    except UnicodeDecodeError:
        return False

    def refuse(_: str) -> None:
        raise ValueError("not a JSON number")

    def no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
        keys = [k for k, _ in pairs]
        if len(keys) != len(set(keys)):
            raise ValueError("duplicate key")
        return dict(pairs)

    try:
        message = json.loads(text, parse_constant=refuse, object_pairs_hook=no_duplicates)
    except (ValueError, RecursionError):
        return False
    if not isinstance(message, dict):
        return False
    model = {"/fhir/Observation": Observation, "/fhir": Bundle}.get(probe.path.split("?")[0])
    if model is None or message.get("resourceType") != model.__name__:
        return False
    if model is Bundle and isinstance(message.get("id"), str) and not _FHIR_ID.match(message["id"]):
        del message["id"]  # the adapter ignores a bad Bundle.id (README); the results are whole
    try:
        model.model_validate(message)
    except Exception:  # any validation failure: not valid
        return False
    return True
