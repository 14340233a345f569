"""Raw-HTTP helpers shared by the Flint end-to-end tests (standard library only)."""
from __future__ import annotations

import http.client
import json
import os
import urllib.parse
from dataclasses import dataclass, field

MODEL = "smollm2-135m-instruct"
API_KEY = "test-key-1"
API_KEY_2 = "test-key-2"


@dataclass
class Response:
    status: int
    headers: dict  # lower-cased names
    body: bytes
    reason: str = ""

    def json(self):
        return json.loads(self.body)

    def header(self, name: str):
        return self.headers.get(name.lower())


def split_base(base_url: str):
    u = urllib.parse.urlsplit(base_url)
    return u.hostname, u.port


def request(base_url: str, method: str, path: str, body: bytes | str | dict | list | None = None,
            headers: dict | None = None, timeout: float = 120, api_key: str | None = API_KEY) -> Response:
    """One request on a fresh connection; raises on connection errors (the caller decides)."""
    host, port = split_base(base_url)
    conn = http.client.HTTPConnection(host, port, timeout=timeout)
    try:
        h = {}
        if body is not None:
            if isinstance(body, (dict, list)):
                body = json.dumps(body).encode()
            elif isinstance(body, str):
                body = body.encode()
            h["Content-Type"] = "application/json"
        if api_key is not None:
            h["Authorization"] = f"Bearer {api_key}"
        if headers:
            h.update(headers)
        conn.request(method, path, body=body, headers=h)
        r = conn.getresponse()
        data = r.read()
        return Response(r.status, {k.lower(): v for k, v in r.getheaders()}, data, r.reason)
    finally:
        conn.close()


def sse_events(body: bytes) -> list[str]:
    """The `data:` payloads of an SSE body, in order."""
    text = body.decode("utf-8")
    events = []
    for block in text.replace("\r\n", "\n").split("\n\n"):
        if not block.strip():
            continue
        data_lines = [line[5:].lstrip(" ") if line.startswith("data:") else None for line in block.split("\n")]
        data_lines = [d for d in data_lines if d is not None]
        if data_lines:
            events.append("\n".join(data_lines))
    return events


def check_error_body(resp: Response) -> str | None:
    """None when `resp.body` is an OpenAI-style error object, else what is wrong with it."""
    try:
        obj = json.loads(resp.body)
    except Exception as e:  # noqa: BLE001
        return f"error body is not JSON ({e}): {resp.body[:200]!r}"
    if not isinstance(obj, dict) or not isinstance(obj.get("error"), dict):
        return f"error body has no 'error' object: {resp.body[:200]!r}"
    err = obj["error"]
    if not isinstance(err.get("message"), str) or not err["message"]:
        return f"error.message is not a non-empty string: {resp.body[:200]!r}"
    if not isinstance(err.get("type"), str) or not err["type"]:
        return f"error.type is not a non-empty string: {resp.body[:200]!r}"
    return None


def read_rss_kib(pid: int) -> int:
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    raise RuntimeError(f"no VmRSS for pid {pid}")


def process_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
        return True
    except OSError:
        return False
