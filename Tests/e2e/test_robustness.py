"""Robustness: random and mutated request bodies must never crash the server or produce 5xx."""
from __future__ import annotations

import copy
import http.client
import json
import random
import socket
import subprocess
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor

import pytest

from conftest import _flint_bin
from e2e_util import API_KEY, MODEL, check_error_body, request, split_base, sse_events

SEED = 20240611
THREADS = 8
REQUEST_TIMEOUT_S = 120
CHAT = "/v1/chat/completions"
COMP = "/v1/completions"
ONE_MB = 1 << 20


class Raw:
    """A JSON fragment inserted verbatim (numbers Python cannot write, deep nesting, bad escapes)."""

    def __init__(self, text: str | bytes):
        self.text = text.encode() if isinstance(text, str) else text


def encode(obj) -> bytes:
    """json.dumps with Raw() fragments spliced in."""
    raws: list[Raw] = []

    def walk(o):
        if isinstance(o, Raw):
            raws.append(o)
            return f"__RAW_{len(raws) - 1}__"
        if isinstance(o, dict):
            return {k: walk(v) for k, v in o.items()}
        if isinstance(o, list):
            return [walk(v) for v in o]
        return o

    out = json.dumps(walk(obj)).encode()
    for i, r in enumerate(raws):
        out = out.replace(f'"__RAW_{i}__"'.encode(), r.text, 1)
    return out


def deep_array(depth: int) -> Raw:
    return Raw("[" * depth + "]" * depth)


def deep_object(depth: int) -> Raw:
    return Raw('{"a":' * depth + "1" + "}" * depth)


BIG_WORDS = ("hello world " * (ONE_MB // 12 + 1))[:ONE_MB]

WRONG_VALUES = [
    "x", "", 0, 1, -1, 2.5, -0.5, True, False, None, [], {}, [1, "a"], {"a": 1}, [None], [[]],
    [{"role": "user"}], [{"role": "user", "content": None}], ["x", 1],
    10 ** 30, -(10 ** 30), 2 ** 63, 2 ** 64, -(2 ** 63) - 1, 2 ** 31, 1e308,
    Raw("1e400"), Raw("-1e400"), Raw("1e-400"), Raw("-0"), Raw("1E+2"), Raw("0.0000000000000000000001"),
    Raw('"\\ud800"'), Raw('"\\u0000"'), Raw('"\\udfff\\ud800"'), Raw('"\\ud83d\\ude00"'),
    Raw(b'"\xff\xfe"'), Raw(b'"\xc3\x28"'), Raw(b'"\xed\xa0\x80"'), Raw(b'"\xf4\x90\x80\x80"'), Raw(b'"\xc0\xaf"'),
    "a" * 1000, BIG_WORDS, deep_array(10_000), deep_object(10_000), deep_array(100),
]

CHAT_BASES = [
    {"model": MODEL, "messages": [{"role": "user", "content": "Hi"}], "max_tokens": 2, "temperature": 0},
    {"model": MODEL, "messages": [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Hi"},
                                  {"role": "assistant", "content": "Hello"}, {"role": "user", "content": "Bye"}],
     "max_tokens": 2, "temperature": 0.7, "top_p": 0.9, "n": 2, "stop": ["\n\n", "END"], "seed": 7,
     "logprobs": True, "top_logprobs": 2, "presence_penalty": 0.1, "frequency_penalty": 0.1,
     "logit_bias": {"1": 0}, "user": "u", "ignore_eos": False, "context_length_exceeded_behavior": "error",
     "return_token_ids": True, "prompt_cache_isolation_key": "k", "prompt_cache_max_len": 16, "top_k": 5,
     "min_p": 0.05, "repetition_penalty": 1.1, "max_completion_tokens": 2},
    {"model": MODEL, "messages": [{"role": "user", "content": "Hi"}], "max_tokens": 2, "stream": True,
     "stream_options": {"include_usage": True}, "temperature": 0},
]

# Completions keep a stop string so that a mutation that drops max_tokens still ends quickly.
COMP_BASES = [
    {"model": MODEL, "prompt": "Hello", "max_tokens": 2, "temperature": 0, "stop": [" ", "\n", "."]},
    {"model": MODEL, "prompt": ["Hello", "Bye"], "max_tokens": 2, "logprobs": 2, "n": 2, "seed": 3,
     "temperature": 1, "stop": [" ", "\n"], "top_k": 3, "min_p": 0.1, "ignore_eos": True, "return_token_ids": True},
    {"model": MODEL, "prompt": [504, 3458, 282], "max_tokens": 2, "stream": True,
     "stream_options": {"include_usage": True}, "stop": [" "]},
    {"model": MODEL, "prompt": [[504, 3458], [28, 29]], "max_tokens": 1, "stop": [" "], "echo": True},
]


def field_paths(body: dict):
    """Paths (tuples of keys/indexes) to every field and sub-field worth mutating."""
    paths = []
    for k, v in body.items():
        paths.append((k,))
        if k == "messages" and isinstance(v, list):
            for i, m in enumerate(v):
                paths.append((k, i))
                for mk in m:
                    paths.append((k, i, mk))
        elif isinstance(v, dict):
            for sk in v:
                paths.append((k, sk))
        elif isinstance(v, list) and v:
            paths.append((k, 0))
    return paths


def set_path(body, path, value, delete=False):
    b = copy.deepcopy(body)
    target = b
    for p in path[:-1]:
        target = target[p]
    if delete:
        del target[path[-1]]
    else:
        target[path[-1]] = value
    return b


def generate_bodies() -> list[tuple[str, bytes, str]]:
    rng = random.Random(SEED)
    bodies: list[tuple[str, bytes, str]] = []
    bases = [(CHAT, b) for b in CHAT_BASES] + [(COMP, b) for b in COMP_BASES]

    # 1. The valid bases themselves (must be 200).
    for path, b in bases:
        bodies.append((path, encode(b), "valid base"))

    # 2. Wrong types / extreme values / deletion for every field.
    typed = []
    for path, b in bases:
        for fp in field_paths(b):
            for v in WRONG_VALUES:
                typed.append((path, b, fp, v, False))
            if not (path == COMP and fp == ("max_tokens",)):
                typed.append((path, b, fp, None, True))
    rng.shuffle(typed)
    # Keep every deletion and a fixed random share of the rest, bounding the run time.
    is_big = [isinstance(t[3], str) and len(t[3]) >= ONE_MB for t in typed]
    big = [t for t, b in zip(typed, is_big) if b]
    deletions = [t for t in typed if t[4]]
    rest = [t for t, b in zip(typed, is_big) if not b and not t[4]]
    chosen = big[:12] + deletions + rest[:700]
    for path, b, fp, v, delete in chosen:
        desc = f"{'delete' if delete else 'set'} {'.'.join(map(str, fp))}" + (
            "" if delete else f" = {type(v).__name__}:{(v.text if isinstance(v, Raw) else repr(v))[:40]!r}")
        bodies.append((path, encode(set_path(b, fp, v, delete)), desc))

    # 3. Truncations of valid bodies at random points (including the empty body).
    for i in range(150):
        path, b = bases[i % len(bases)]
        data = encode(b)
        cut = 0 if i == 0 else rng.randrange(0, len(data))
        bodies.append((path, data[:cut], f"truncated at {cut}/{len(data)}"))

    # 4. Random byte flips.
    for i in range(150):
        path, b = bases[i % len(bases)]
        data = bytearray(encode(b))
        for _ in range(rng.randint(1, 3)):
            pos = rng.randrange(len(data))
            data[pos] = rng.randrange(256)
        bodies.append((path, bytes(data), "byte flips"))

    # 5. Hand-written oddities, sent to both endpoints.
    valid_chat = encode(CHAT_BASES[0])
    specials: list[tuple[bytes, str]] = [
        (b"", "empty body"), (b" ", "blank body"), (b"null", "null"), (b"[]", "empty array"), (b"[1,2]", "array"),
        (b"1", "number"), (b"-1e400", "huge number"), (b'"str"', "string"), (b"true", "true"), (b"{}", "empty object"),
        (b"\x00", "NUL"), (b"\xff\xfe\xfd", "invalid utf-8 body"), (b"{" * 10_000, "10k open braces"),
        (b"[" * 10_000 + b"]" * 10_000, "array nested 10k deep"), (b"[" * 100_000, "100k open brackets"),
        (deep_object(10_000).text, "object nested 10k deep"),
        (b"\xef\xbb\xbf" + valid_chat, "BOM + valid body"), (valid_chat + b"xyz", "trailing garbage"),
        (valid_chat + valid_chat, "two objects"), (b"  \n\t" + valid_chat + b"\n  ", "whitespace padded"),
        (valid_chat.replace(b'"max_tokens": 2', b'"max_tokens": 2, "max_tokens": 3'), "duplicate key"),
        (valid_chat.replace(b'"temperature": 0', b'"temperature": NaN'), "NaN literal"),
        (valid_chat.replace(b'"temperature": 0', b'"temperature": Infinity'), "Infinity literal"),
        (valid_chat.replace(b'"temperature": 0', b'"temperature": 0,'), "trailing comma"),
        (valid_chat.replace(b'"', b"'"), "single quotes"),
        (valid_chat.replace(b'"Hi"', b'"Hi\x01\x02"'), "raw control characters in string"),
        (valid_chat.replace(b'"Hi"', b'"\\x41"'), "bad escape"),
        (valid_chat.replace(b'"Hi"', b'"\\u12"'), "short unicode escape"),
        (valid_chat.replace(b'"Hi"', b'"' + b"\\ud800" * 1000 + b'"'), "many lone surrogates"),
        (encode({**CHAT_BASES[0], "unknown_field": {"nested": [1, 2, {"x": None}]}}), "unknown field"),
        (encode({**CHAT_BASES[0], **{f"k{i}": i for i in range(5000)}}), "5000 unknown fields"),
        (encode({**CHAT_BASES[0], "x" * ONE_MB: 1}), "1 MB key"),
        (encode({**CHAT_BASES[0], "messages": [{"role": "user", "content": "Hi"}] * 2000}), "2000 messages"),
        (encode({**CHAT_BASES[0], "messages": [{"role": "bogus", "content": "Hi"}]}), "unknown role"),
        (encode({**CHAT_BASES[0], "messages": [{"role": "developer", "content": "Hi"}]}), "developer role"),
        (encode({**CHAT_BASES[0], "messages": [{"role": "tool", "content": "Hi", "tool_call_id": "1"}]}), "tool role"),
        (encode({**CHAT_BASES[0], "messages": [{"role": "user", "content": [{"type": "text", "text": "Hi"}]}]}),
         "content parts"),
        (encode({**CHAT_BASES[0], "messages": [{"role": "user", "content": [{"type": "image_url",
                                                                             "image_url": {"url": "x"}}]}]}),
         "image content part"),
        (encode({**CHAT_BASES[0], "messages": [{"role": "user", "content": [{"type": "text"}]}]}), "part without text"),
        (encode({**CHAT_BASES[0], "messages": [{"role": "user", "content": [None, 1, "x"]}]}), "junk parts"),
        (encode({**CHAT_BASES[0], "messages": [{"role": "user", "content": "Hi", "name": 5}]}), "name not string"),
        (encode({**CHAT_BASES[0], "messages": [{"role": "assistant", "content": "Hi"}]}), "only assistant"),
        (encode({**CHAT_BASES[0], "messages": [{"role": "system", "content": "Hi"}]}), "only system"),
        (encode({**CHAT_BASES[0], "messages": [{"role": "user", "content": ""}]}), "empty content"),
        (encode({**CHAT_BASES[0], "stop": ["x"] * 100}), "100 stop strings"),
        (encode({**CHAT_BASES[0], "stop": ""}), "empty stop"),
        (encode({**CHAT_BASES[0], "stop": "x" * ONE_MB}), "1 MB stop"),
        (encode({**CHAT_BASES[0], "logit_bias": {str(i): 1 for i in range(5000)}}), "5000 logit_bias entries"),
        (encode({**CHAT_BASES[0], "logit_bias": {"-1": 1}}), "negative logit_bias key"),
        (encode({**CHAT_BASES[0], "logit_bias": {"99999999999999999999": 1}}), "huge logit_bias key"),
        (encode({**CHAT_BASES[0], "logit_bias": {"1": 1000}}), "logit_bias value out of range"),
        (encode({**CHAT_BASES[0], "n": 16, "max_tokens": 1}), "n=16"),
        (encode({**CHAT_BASES[0], "n": 17}), "n=17"),
        (encode({**CHAT_BASES[0], "max_tokens": 1 << 24}), "max_tokens 2^24"),
        (encode({**CHAT_BASES[0], "max_tokens": (1 << 24) + 1}), "max_tokens 2^24+1"),
        (encode({**CHAT_BASES[0], "max_tokens": 2.0}), "max_tokens 2.0"),
        (encode({**CHAT_BASES[0], "logprobs": True, "top_logprobs": 21}), "top_logprobs 21"),
        (encode({**CHAT_BASES[0], "logprobs": True, "top_logprobs": 20}), "top_logprobs 20"),
        (encode({**CHAT_BASES[0], "stream": False, "stream_options": {"include_usage": True}}),
         "stream_options without stream"),
        (encode({"model": MODEL, "prompt": [-1, 5], "max_tokens": 1}), "negative token id"),
        (encode({"model": MODEL, "prompt": [10 ** 9], "max_tokens": 1}), "token id beyond vocabulary"),
        (encode({"model": MODEL, "prompt": [[]], "max_tokens": 1}), "empty token array"),
        (encode({"model": MODEL, "prompt": [1.5], "max_tokens": 1}), "fractional token id"),
        (encode({"model": MODEL, "prompt": [1, "a"], "max_tokens": 1}), "mixed prompt array"),
        (encode({"model": MODEL, "prompt": ["a"] * 100, "max_tokens": 1, "stop": [" "]}), "100 prompts"),
        (encode({"model": MODEL, "prompt": "Hello", "max_tokens": 1, "echo": True, "logprobs": 5}), "echo+logprobs"),
        (encode({"model": MODEL, "prompt": "Hello", "max_tokens": 1, "logprobs": 6}), "logprobs 6"),
        (encode({"model": MODEL, "prompt": "Hello", "max_tokens": 1, "suffix": "x"}), "suffix"),
        (encode({"model": MODEL, "prompt": "Hello", "max_tokens": 1, "best_of": 2}), "best_of"),
        (encode({"model": "", "prompt": "Hello", "max_tokens": 1}), "empty model"),
        (encode({"model": "../../etc/passwd", "prompt": "Hello", "max_tokens": 1}), "path traversal model"),
        (encode({"model": "accounts/x/models/", "prompt": "Hello", "max_tokens": 1}), "empty model after prefix"),
        (encode({"prompt": "Hello", "max_tokens": 1}), "no model"),
    ]
    for data, desc in specials:
        bodies.append((CHAT, data, desc))
        bodies.append((COMP, data, desc))
    return bodies


STATUS_COUNTS: Counter = Counter()


def send(base_url: str, item) -> str | None:
    """Sends one body; None when the answer is acceptable, else a description of the problem."""
    path, data, desc = item
    problem = _send(base_url, item)
    return problem


def _send(base_url: str, item) -> str | None:
    path, data, desc = item
    label = f"POST {path} [{desc}] body={data[:120]!r}{'...' if len(data) > 120 else ''} ({len(data)} bytes)"
    try:
        r = request(base_url, "POST", path, data, timeout=REQUEST_TIMEOUT_S)
    except (OSError, http.client.HTTPException) as e:
        STATUS_COUNTS["connection error"] += 1
        return f"{label}: connection error {e!r}"
    STATUS_COUNTS[r.status] += 1
    if r.status == 200:
        if "text/event-stream" in (r.header("content-type") or ""):
            try:
                events = sse_events(r.body)
            except UnicodeDecodeError as e:
                return f"{label}: 200 stream is not UTF-8: {e}"
            if not events or events[-1] != "[DONE]":
                return f"{label}: 200 stream does not end with [DONE]: {r.body[-200:]!r}"
            for ev in events[:-1]:
                try:
                    obj = json.loads(ev)
                except ValueError:
                    return f"{label}: 200 stream event is not JSON: {ev[:200]!r}"
                if "error" in obj:
                    return f"{label}: 200 stream carries an error event: {ev[:300]!r}"
            return None
        try:
            obj = r.json()
        except ValueError:
            return f"{label}: 200 body is not JSON: {r.body[:200]!r}"
        if not isinstance(obj, dict) or not obj.get("choices"):
            return f"{label}: 200 body has no choices: {r.body[:200]!r}"
        return None
    if 400 <= r.status < 500:
        problem = check_error_body(r)
        return f"{label}: {r.status} {problem}" if problem else None
    return f"{label}: status {r.status}: {r.body[:300]!r}"


def test_fuzz_bodies(base_url):
    bodies = generate_bodies()
    assert len(bodies) >= 1000, len(bodies)
    failures: list[str] = []
    statuses: dict = {}
    t0 = time.monotonic()
    with ThreadPoolExecutor(THREADS) as pool:
        for start in range(0, len(bodies), 100):
            batch = bodies[start:start + 100]
            for problem in pool.map(lambda it: send(base_url, it), batch):
                if problem:
                    failures.append(problem)
            try:
                h = request(base_url, "GET", "/health", timeout=30, api_key=None)
                health = h.status
            except (OSError, http.client.HTTPException) as e:
                health = repr(e)
            if health != 200:
                failures.append(f"GET /health after {start + len(batch)} bodies: {health}")
                break
    elapsed = time.monotonic() - t0
    print(f"\nfuzz: {len(bodies)} bodies in {elapsed:.1f} s, {len(failures)} failures; "
          f"statuses {sorted(STATUS_COUNTS.items(), key=str)}")
    assert not failures, f"{len(failures)} of {len(bodies)} bodies got a bad answer:\n" + "\n".join(failures[:40])


def test_valid_bases_succeed(base_url):
    """The unmutated base bodies must all be accepted (guards against a fuzz run that only sees 4xx)."""
    for path, b in [(CHAT, b) for b in CHAT_BASES] + [(COMP, b) for b in COMP_BASES]:
        r = request(base_url, "POST", path, encode(b))
        assert r.status == 200, f"{path} {b}: {r.status} {r.body[:300]!r}"


def _raw_post(base_url: str, path: str, head_extra: bytes, chunks, timeout: float = 60) -> tuple[bytes, str | None]:
    """Sends a request from raw pieces; returns (what came back, send error if sending was cut short)."""
    host, port = split_base(base_url)
    s = socket.create_connection((host, port), timeout=timeout)
    send_error = None
    try:
        s.sendall(f"POST {path} HTTP/1.1\r\nHost: {host}:{port}\r\nAuthorization: Bearer {API_KEY}\r\n"
                  f"Content-Type: application/json\r\nConnection: close\r\n".encode() + head_extra + b"\r\n")
        # A server that answers early (413) may stop reading; don't wait long on a full send window.
        s.settimeout(15)
        try:
            for c in chunks:
                s.sendall(c)
        except OSError as e:
            send_error = repr(e)
        s.settimeout(timeout)
        got = b""
        try:
            while not _complete(got):
                d = s.recv(65536)
                if not d:
                    break
                got += d
        except OSError as e:
            if not got:
                raise AssertionError(f"no response (send error {send_error}); recv failed: {e!r}") from e
        return got, send_error
    finally:
        s.close()


def _complete(raw: bytes) -> bool:
    """Whether `raw` holds a whole response (so a server that keeps the connection open does not stall us)."""
    head, sep, body = raw.partition(b"\r\n\r\n")
    if not sep:
        return False
    for line in head.lower().split(b"\r\n"):
        if line.startswith(b"content-length:"):
            return len(body) >= int(line.split(b":")[1])
    if b"transfer-encoding: chunked" in head.lower():
        return body.endswith(b"0\r\n\r\n")
    return False


def _status_and_body(raw: bytes) -> tuple[int, bytes]:
    head, _, body = raw.partition(b"\r\n\r\n")
    status = int(head.split(b" ", 2)[1])
    if b"transfer-encoding: chunked" in head.lower():
        out, rest = b"", body
        while rest:
            size_line, _, rest = rest.partition(b"\r\n")
            size = int(size_line.split(b";")[0], 16)
            if size == 0:
                break
            out, rest = out + rest[:size], rest[size + 2:]
        body = out
    return status, body


def test_body_too_large_content_length(base_url):
    body = b'{"model":"' + MODEL.encode() + b'","messages":[{"role":"user","content":"' + b"a" * (20 * ONE_MB) + b'"}]}'
    pieces = (body[i:i + 65536] for i in range(0, len(body), 65536))
    raw, send_error = _raw_post(base_url, CHAT, f"Content-Length: {len(body)}\r\n".encode(), pieces)
    assert raw, f"connection closed without a response (send error: {send_error})"
    status, resp_body = _status_and_body(raw)
    assert status == 413, (status, resp_body[:300], f"send error: {send_error}")
    from e2e_util import Response
    problem = check_error_body(Response(status, {}, resp_body))
    assert problem is None, problem
    assert request(base_url, "GET", "/health", api_key=None).status == 200


def test_body_too_large_chunked(base_url):
    chunk = b"a" * 65536

    payload_head = b'{"model":"' + MODEL.encode() + b'","prompt":"'

    def chunked():
        yield b"%x\r\n%s\r\n" % (len(payload_head), payload_head)
        for _ in range(20 * ONE_MB // len(chunk)):
            yield b"%x\r\n%s\r\n" % (len(chunk), chunk)
        tail = b'"}'
        yield b"%x\r\n%s\r\n0\r\n\r\n" % (len(tail), tail)

    raw, send_error = _raw_post(base_url, COMP, b"Transfer-Encoding: chunked\r\n", chunked())
    assert raw, f"connection closed without a response (send error: {send_error})"
    status, resp_body = _status_and_body(raw)
    assert status == 413, (status, resp_body[:300], f"send error: {send_error}")
    assert request(base_url, "GET", "/health", api_key=None).status == 200


def test_http_protocol_junk(base_url):
    """Malformed HTTP may be refused or the connection closed, but the server must stay healthy."""
    host, port = split_base(base_url)
    junk = [b"GARBAGE\r\n\r\n", b"POST /v1/completions HTTP/1.1\r\nContent-Length: -5\r\n\r\n",
            b"POST /v1/completions HTTP/1.1\r\nContent-Length: 99999999999999999999999\r\n\r\n",
            b"POST /v1/completions HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n",
            b"POST /v1/completions HTTP/1.1\r\n" + b"X-Long: " + b"a" * 200_000 + b"\r\n\r\n",
            b"GET /" + b"a" * 100_000 + b" HTTP/1.1\r\n\r\n",
            b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03" + bytes(range(256)),  # a TLS hello
            b"POST /v1/chat/completions HTTP/1.1\r\nAuthorization: Bearer " + API_KEY.encode()
            + b"\r\nContent-Length: 10\r\n\r\n{\"a\"",  # shorter than announced, then close
            ]
    for j in junk:
        try:
            with socket.create_connection((host, port), timeout=10) as s:
                s.sendall(j)
                s.shutdown(socket.SHUT_WR)
                try:
                    while s.recv(65536):
                        pass
                except OSError:
                    pass
        except OSError:
            pass
    assert request(base_url, "GET", "/health", api_key=None).status == 200
    r = request(base_url, "POST", CHAT, CHAT_BASES[0])
    assert r.status == 200, r.body[:300]


def test_unknown_routes_and_methods(base_url):
    for method, path in [("GET", "/v1/nothing"), ("GET", "/v1/chat/completions"), ("DELETE", "/v1/models"),
                         ("PUT", "/v1/completions"), ("GET", "/v1/models/" + "a" * 5000)]:
        r = request(base_url, method, path)
        assert 400 <= r.status < 500, (method, path, r.status, r.body[:200])


def test_zz_pathological_single_word_prompt(base_url):
    """1 MB without a space is one pre-token for BPE: it must be refused (context) in bounded time."""
    t0 = time.monotonic()
    try:
        r = request(base_url, "POST", COMP, {"model": MODEL, "prompt": "a" * ONE_MB, "max_tokens": 1}, timeout=90)
    except (OSError, http.client.HTTPException) as e:
        pytest.fail(f"1 MB single-word prompt: no answer within 90 s ({e!r})")
    elapsed = time.monotonic() - t0
    assert 400 <= r.status < 500, (r.status, r.body[:300])
    assert elapsed < 60, f"took {elapsed:.1f} s"
    assert request(base_url, "GET", "/health", api_key=None).status == 200


@pytest.mark.parametrize("value, message", [
    ("lots", "is not a byte count"),
    ("100000GiB", "is more than this machine's memory"),
])
def test_bad_kv_cache_memory_is_a_clear_startup_error(value, message):
    """--kv-cache-memory is checked before anything is allocated: a size the machine cannot
    hold ends the command with a usage error (exit status 64), not a crash."""
    proc = subprocess.run([str(_flint_bin()), "serve", "--kv-cache-memory", value, "--port", "0"],
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == 64, proc.stderr
    assert message in proc.stderr
