"""JSON bodies decode the same with and without the speed extra: the stdlib's answers are the
contract, value for value and error for error."""

from __future__ import annotations

import json
import os
import random
import subprocess
import sys
from collections.abc import Callable
from typing import Any

import pytest
from seed_payloads import (
    COMPRESSORAPP_COMPLETED,
    COMPRESSORAPP_PROCESSING,
    MEDIA_DONE,
    TF_COMPRESS_STATUS,
    TF_CONVERT_STATUS,
    TF_ERROR_NOT_FOUND,
)

from fastwait._json import STDLIB, JsonDecoder, json_decoder, orjson_decoder


def _orjson() -> JsonDecoder:
    decoder = orjson_decoder()
    assert decoder is not None, "the test extra installs orjson (the speed extra)"
    return decoder


DECODERS = [pytest.param(lambda: STDLIB, id="json"), pytest.param(_orjson, id="orjson")]


def _strict_reference(body: bytes) -> Any:
    """What the receiver did before the speed extra: UTF-8, then JSON without constants."""

    def reject(name: str) -> Any:
        raise ValueError(f"{name} is not JSON")

    return json.JSONDecoder(parse_constant=reject).decode(body.decode("utf-8"))


def _outcome(decode: Callable[[bytes], Any], body: bytes) -> tuple[str, str]:
    """The value (by repr: NaN != NaN) or the exception's type and message."""
    try:
        value = decode(body)
    except (ValueError, RecursionError) as exc:
        return type(exc).__name__, str(exc)
    return "value", f"{type(value).__name__}:{value!r}"


NESTED_SHALLOW = b"[" * 200 + b"]" * 200
NESTED_DEEP = b"[" * 100_000 + b"]" * 100_000

BODIES = [
    b'{"a": 1, "a": 2}',  # duplicate keys: the last wins
    b'{"a": {"b": 1}, "a": [1]}',
    b"NaN",
    b'{"percent": NaN}',
    b"[Infinity, -Infinity]",
    b"18446744073709551616",  # 2**64
    b"-9223372036854775809",  # below int64
    b'{"bytes": 123456789012345678901234567890}',
    b"9223372036854775807",
    b"[1,18446744073709551616]",
    b'{"a":-18446744073709551616}',
    b'{"a":\n18446744073709551616}',
    b'{"id": "00000000000000000000000000000001", "n": 1}',  # digits in a string: orjson's
    b'{"id": "x: 00000000000000000000000000000001"}',
    b"1e400",
    b"-1e400",
    b"1e-400",
    b"0.1234567890123456789012",
    b"1.7976931348623157e308",
    b"4.9e-324",
    b"-0",
    b"-0.0",
    b"1E5",
    b"0.1e+1",
    b"01",
    b"1.",
    b".5",
    b"+1",
    b"0x10",
    b"[1,]",
    b'{"a":1,}',
    b"",
    b"   ",
    b"\x00",
    b"{} x",
    b"{}\x0c",
    b' \t\n\r{"a" : 1 } \r\n',
    b'"\x01"',
    b'"\x7f"',
    b'"\\u0000"',
    b'"\\ud800"',  # an escaped lone surrogate
    b'"\\ud83d\\ude00"',
    b'"\xed\xa0\x80"',  # a surrogate encoded in UTF-8
    b'"\xc0\x80"',  # overlong
    b"\xff",
    b'{"a": "\xe9"}',  # Latin-1
    b"\xef\xbb\xbf{}",  # UTF-8 byte order mark
    '{"a": 1}'.encode("utf-16"),
    '{"a": 1}'.encode("utf-32-le"),
    b'"caf\xc3\xa9 \xe2\x82\xac"',
    b"true",
    b"null",
    b"[true, false, null]",
    b"tru",
    b'"unterminated',
    b'{"a": 1',
    NESTED_SHALLOW,
    NESTED_DEEP,
    b'{"a":' * 300 + b"1" + b"}" * 300,
    *(json.dumps(payload).encode() for payload in (TF_COMPRESS_STATUS, TF_CONVERT_STATUS)),
    *(json.dumps(p).encode() for p in (COMPRESSORAPP_COMPLETED, COMPRESSORAPP_PROCESSING)),
    json.dumps(MEDIA_DONE, ensure_ascii=False).encode(),
    json.dumps(TF_ERROR_NOT_FOUND, indent=2).encode(),
]


def _mutants(count: int, seed: int) -> list[bytes]:
    """Seed payloads with bytes replaced, inserted or dropped: near-JSON of every kind."""
    rng = random.Random(seed)
    seeds = [json.dumps(p).encode() for p in (TF_COMPRESS_STATUS, COMPRESSORAPP_COMPLETED)]
    alphabet = b'0123456789eE+-.,:[]{}"\\ \ttrufalsnNIy\x00\x7f\xc3\xa9\xed\xff'
    mutants = []
    for _ in range(count):
        body = bytearray(rng.choice(seeds))
        for _ in range(rng.randint(1, 4)):
            at = rng.randrange(len(body))
            action = rng.random()
            if action < 0.4:
                body[at] = rng.choice(alphabet)
            elif action < 0.8:
                body.insert(at, rng.choice(alphabet))
            else:
                del body[at]
        mutants.append(bytes(body))
    return mutants


@pytest.mark.parametrize("make", DECODERS)
@pytest.mark.parametrize("body", BODIES, ids=lambda body: repr(body[:24]))
def test_loads_answers_what_json_loads_answers(
    make: Callable[[], JsonDecoder], body: bytes
) -> None:
    assert _outcome(make().loads, body) == _outcome(json.loads, body)


@pytest.mark.parametrize("make", DECODERS)
@pytest.mark.parametrize("body", BODIES, ids=lambda body: repr(body[:24]))
def test_loads_utf8_answers_what_the_strict_decoder_answers(
    make: Callable[[], JsonDecoder], body: bytes
) -> None:
    assert _outcome(make().loads_utf8, body) == _outcome(_strict_reference, body)


@pytest.mark.parametrize("make", DECODERS)
def test_mutated_payloads_decode_alike(make: Callable[[], JsonDecoder]) -> None:
    decoder = make()
    for body in _mutants(3000, seed=20):
        assert _outcome(decoder.loads, body) == _outcome(json.loads, body), body
        assert _outcome(decoder.loads_utf8, body) == _outcome(_strict_reference, body), body


def test_orjson_answers_the_bodies_it_agrees_on() -> None:
    # Not a fallback every time: a status body is orjson's to decode.
    decoder = _orjson()
    body = json.dumps(TF_COMPRESS_STATUS).encode()
    assert decoder._may_answer(body)
    assert decoder._may_answer(b'{"id": "00000000000000000000000000000001"}')
    assert not decoder._may_answer(b"18446744073709551616")
    assert not decoder._may_answer(b'{"bytes": 18446744073709551616}')
    assert not decoder._may_answer(NESTED_DEEP)


def _python(code: str, **env: str) -> str:
    environment = {k: v for k, v in os.environ.items() if k != "FASTWAIT_NO_SPEEDUPS"}
    result = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        check=True,
        env={**environment, **env},
        timeout=60,
    )
    return result.stdout.strip()


def test_importing_fastwait_imports_nothing_from_the_speed_extra() -> None:
    code = (
        "import sys, fastwait, fastwait.receiver, fastwait.providers, fastwait.cli\n"
        "print(sorted(m for m in ('orjson', 'uvloop') if m in sys.modules))"
    )
    assert _python(code) == "[]"


def test_the_process_decoder_is_orjson_unless_speedups_are_disabled() -> None:
    code = "from fastwait._json import json_decoder; print(json_decoder().name)"
    assert _python(code) == "orjson"
    assert _python(code, FASTWAIT_NO_SPEEDUPS="1") == "json"
    assert json_decoder().name == ("json" if os.environ.get("FASTWAIT_NO_SPEEDUPS") else "orjson")
