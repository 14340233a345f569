"""Keep-alive connections: a client that keeps its connection open gets every response on it,
with no retries (issue: a pooled client used to race the server closing the connection after
each generation response). Connections are counted by the server (flint:http_connections_total,
incremented when a connection is accepted)."""
from __future__ import annotations

import http.client
import json
import threading

from e2e_util import API_KEY, MODEL, split_base

N_SEQUENTIAL = 2000
N_CLIENTS = 32
N_PER_CLIENT = 25
MSG = [{"role": "user", "content": "Say hi"}]


def connections_total(conn: http.client.HTTPConnection) -> float:
    conn.request("GET", "/metrics", headers={"Authorization": f"Bearer {API_KEY}"})
    r = conn.getresponse()
    body = r.read().decode()
    assert r.status == 200, body
    return next(float(line.split()[-1]) for line in body.splitlines() if line.startswith("flint:http_connections_total "))


def fresh_connections_total(base_url: str) -> float:
    """Read on a connection of its own, which counts too (the value includes it)."""
    conn = http.client.HTTPConnection(*split_base(base_url), timeout=30)
    try:
        return connections_total(conn)
    finally:
        conn.close()


# One request of kind i % 6 on a raw keep-alive connection; returns the status. The body is
# always read to its end, as a keep-alive client must.
RAW_KINDS = [
    ("POST", "/v1/chat/completions", {"model": MODEL, "messages": MSG, "max_tokens": 2}, 200),
    ("POST", "/v1/chat/completions", {"model": MODEL, "messages": MSG, "max_tokens": 2, "stream": True}, 200),
    ("POST", "/v1/completions", {"model": MODEL, "prompt": "Hello", "max_tokens": 2}, 200),
    ("GET", "/v1/models", None, 200),
    ("POST", "/v1/chat/completions", {"model": MODEL, "messages": [], "max_tokens": 2}, 400),
    ("POST", "/v1/chat/completions", {"model": "no-such-model", "messages": MSG, "max_tokens": 2}, 404),
]


def raw_request(conn: http.client.HTTPConnection, i: int, overload_ok: bool = False) -> None:
    """overload_ok: a 429 (the session server's waiting queue is short) counts as an answer."""
    method, path, body, want = RAW_KINDS[i % len(RAW_KINDS)]
    headers = {"Authorization": f"Bearer {API_KEY}", "Content-Type": "application/json"}
    conn.request(method, path, body=json.dumps(body) if body is not None else None, headers=headers)
    r = conn.getresponse()
    data = r.read()
    assert r.status == want or (overload_ok and r.status == 429), (i, method, path, r.status, data[:300])
    assert not r.will_close, (i, method, path, "the server asked to close the connection")


def test_2000_sequential_requests_on_one_raw_connection(base_url):
    conn = http.client.HTTPConnection(*split_base(base_url), timeout=120)
    try:
        before = connections_total(conn)
        for i in range(N_SEQUENTIAL):
            raw_request(conn, i)  # a connection error raises here
        after = connections_total(conn)
    finally:
        conn.close()
    assert after == before, f"the server accepted {after - before:.0f} more connections during the run"


def test_2000_sequential_requests_on_one_openai_client(base_url, openai_module):
    openai = openai_module
    client = openai.OpenAI(base_url=f"{base_url}/v1", api_key=API_KEY, max_retries=0, timeout=120)
    errors, streams = [], 0
    before = fresh_connections_total(base_url)
    try:
        for i in range(N_SEQUENTIAL):
            kind = i % 6
            try:
                if kind == 0:
                    client.chat.completions.create(model=MODEL, messages=MSG, max_tokens=2)
                elif kind == 1:
                    streams += 1
                    assert sum(1 for _ in client.chat.completions.create(model=MODEL, messages=MSG, max_tokens=2,
                                                                         stream=True)) > 0
                elif kind == 2:
                    client.completions.create(model=MODEL, prompt="Hello", max_tokens=2)
                elif kind == 3:
                    client.models.list()
                elif kind == 4:
                    try:
                        client.chat.completions.create(model=MODEL, messages=[], max_tokens=2)
                        errors.append((i, "no 400"))
                    except openai.BadRequestError:
                        pass
                else:
                    try:
                        client.chat.completions.create(model="no-such-model", messages=MSG, max_tokens=2)
                        errors.append((i, "no 404"))
                    except openai.NotFoundError:
                        pass
            except openai.APIConnectionError as e:
                errors.append((i, repr(e)))
    finally:
        client.close()
    opened = fresh_connections_total(base_url) - before - 1  # less the counting connection
    assert errors == [], f"{len(errors)} of {N_SEQUENTIAL} requests failed, first: {errors[:5]}"
    # The SDK's synchronous stream stops reading at `data: [DONE]` and closes the response
    # before the chunked body's end, which closes the connection on its side (httpx); every
    # other response leaves it open.
    assert opened <= 1 + streams, f"{opened:.0f} connections for {N_SEQUENTIAL} requests ({streams} streams)"


def test_non_streaming_openai_requests_share_one_connection(base_url, openai_module):
    client = openai_module.OpenAI(base_url=f"{base_url}/v1", api_key=API_KEY, max_retries=0, timeout=120)
    before = fresh_connections_total(base_url)
    try:
        for i in range(200):
            if i % 2:
                client.chat.completions.create(model=MODEL, messages=MSG, max_tokens=2)
            else:
                client.completions.create(model=MODEL, prompt="Hello", max_tokens=2)
    finally:
        client.close()
    assert fresh_connections_total(base_url) - before - 1 == 1


def test_32_concurrent_keep_alive_clients(base_url):
    before = fresh_connections_total(base_url)
    failures = []

    def one_client(c: int):
        conn = http.client.HTTPConnection(*split_base(base_url), timeout=300)
        try:
            for i in range(N_PER_CLIENT):
                raw_request(conn, c + i, overload_ok=True)
        except Exception as e:  # noqa: BLE001 - reported below
            failures.append((c, repr(e)))
        finally:
            conn.close()

    threads = [threading.Thread(target=one_client, args=(c,)) for c in range(N_CLIENTS)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert failures == [], f"{len(failures)} clients failed, first: {failures[:3]}"
    assert fresh_connections_total(base_url) - before - 1 == N_CLIENTS
