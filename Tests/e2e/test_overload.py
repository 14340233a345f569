"""Overload: 200 concurrent streaming clients against `--max-queue 8`."""
from __future__ import annotations

import http.client
import json
import threading
import time

from e2e_util import API_KEY, MODEL, check_error_body, read_rss_kib, request, split_base, sse_events

CLIENTS = 200
PER_REQUEST_TIMEOUT_S = 120
WHOLE_TEST_TIMEOUT_S = 300
RSS_SLACK_KIB = 50 * 1024

BODY = json.dumps({"model": MODEL, "messages": [{"role": "user", "content": "Count from one to twenty."}],
                   "max_tokens": 16, "ignore_eos": True, "stream": True, "temperature": 0}).encode()


def one_client(base_url: str, barrier: threading.Barrier, results: list, i: int):
    host, port = split_base(base_url)
    t0 = None
    try:
        conn = http.client.HTTPConnection(host, port, timeout=PER_REQUEST_TIMEOUT_S)
        conn.connect()
        try:
            barrier.wait(timeout=60)
        except threading.BrokenBarrierError:
            pass
        t0 = time.monotonic()
        conn.request("POST", "/v1/chat/completions", body=BODY,
                     headers={"Authorization": f"Bearer {API_KEY}", "Content-Type": "application/json"})
        r = conn.getresponse()
        status = r.status
        headers = {k.lower(): v for k, v in r.getheaders()}
        body = r.read()
        conn.close()
        elapsed = time.monotonic() - t0
        if status == 200:
            events = sse_events(body)
            if not events or events[-1] != "[DONE]":
                results[i] = ("bad", f"200 stream without final [DONE]: ...{body[-200:]!r}")
                return
            deltas = 0
            for ev in events[:-1]:
                obj = json.loads(ev)
                if "error" in obj:
                    results[i] = ("bad", f"200 stream with an error event: {ev[:300]}")
                    return
                for ch in obj.get("choices", []):
                    if ch.get("delta", {}).get("content"):
                        deltas += 1
            results[i] = ("ok", elapsed)
        elif status in (429, 503):
            from e2e_util import Response
            problem = check_error_body(Response(status, headers, body))
            if "retry-after" not in headers:
                results[i] = ("bad", f"{status} without Retry-After header: {headers}")
            elif problem:
                results[i] = ("bad", f"{status}: {problem}")
            else:
                results[i] = ("refused", status)
        else:
            results[i] = ("bad", f"unexpected status {status}: {body[:300]!r}")
    except Exception as e:  # noqa: BLE001
        results[i] = ("bad", f"{type(e).__name__}: {e} (after {time.monotonic() - t0:.1f} s)" if t0 else repr(e))


def _rss_settled(pid: int, target_kib: int, tries: int = 20) -> int:
    rss = read_rss_kib(pid)
    for _ in range(tries):
        if rss <= target_kib:
            return rss
        time.sleep(1)
        rss = read_rss_kib(pid)
    return rss


def test_overload_200_streaming_clients(base_url, server_pid):
    # Warm up (first requests allocate caches), then measure the baseline RSS after a settle.
    for _ in range(3):
        r = request(base_url, "POST", "/v1/chat/completions", BODY)
        assert r.status == 200, r.body[:300]
    time.sleep(2)
    rss_before = read_rss_kib(server_pid)

    results: list = [None] * CLIENTS
    barrier = threading.Barrier(CLIENTS)
    threads = [threading.Thread(target=one_client, args=(base_url, barrier, results, i), daemon=True)
               for i in range(CLIENTS)]
    t0 = time.monotonic()
    for t in threads:
        t.start()
    deadline = t0 + WHOLE_TEST_TIMEOUT_S
    for t in threads:
        t.join(timeout=max(0.1, deadline - time.monotonic()))
    elapsed = time.monotonic() - t0
    hung = [i for i, t in enumerate(threads) if t.is_alive()]
    assert not hung, f"{len(hung)} requests still unfinished after {elapsed:.0f} s"

    ok = [r for r in results if r and r[0] == "ok"]
    refused = [r for r in results if r and r[0] == "refused"]
    bad = [r for r in results if not r or r[0] == "bad"]
    print(f"\noverload: {len(ok)} completed, {len(refused)} refused "
          f"({sorted(set(r[1] for r in refused))}), {len(bad)} bad, {elapsed:.1f} s; "
          f"slowest success {max((r[1] for r in ok), default=0):.1f} s")
    assert not bad, f"{len(bad)} bad outcomes, e.g.:\n" + "\n".join(str(b) for b in bad[:15])
    assert ok, "no request succeeded"
    assert refused, "no request was refused although 200 arrived at once with --max-queue 8"

    assert request(base_url, "GET", "/health", api_key=None).status == 200
    rss_after = _rss_settled(server_pid, rss_before + RSS_SLACK_KIB)
    print(f"RSS before {rss_before / 1024:.1f} MiB, after {rss_after / 1024:.1f} MiB")
    assert rss_after <= rss_before + RSS_SLACK_KIB, (
        f"RSS grew from {rss_before / 1024:.1f} MiB to {rss_after / 1024:.1f} MiB after the burst")

    # A normal request still succeeds, and /metrics still answers.
    r = request(base_url, "POST", "/v1/chat/completions",
                {"model": MODEL, "messages": [{"role": "user", "content": "Hi"}], "max_tokens": 4})
    assert r.status == 200, r.body[:300]
    assert r.json()["choices"][0]["message"]["role"] == "assistant"
    m = request(base_url, "GET", "/metrics", api_key=None)
    assert m.status == 200


def _request_gauges(base_url: str) -> dict:
    m = request(base_url, "GET", "/metrics", api_key=None).body.decode()
    out = {}
    for line in m.splitlines():
        for name in ("flint:num_requests_running", "flint:num_requests_waiting"):
            if line.startswith(name):
                out[name] = out.get(name, 0) + float(line.split()[-1])
    return out


def _wait_idle(base_url: str, timeout_s: float, what: str):
    deadline = time.monotonic() + timeout_s
    gauges = {}
    while time.monotonic() < deadline:
        gauges = _request_gauges(base_url)
        if gauges and all(v == 0 for v in gauges.values()):
            return
        time.sleep(0.5)
    raise AssertionError(f"{what}: requests still running/waiting {timeout_s:.0f} s later: {gauges}")


def test_client_disconnects_mid_stream(base_url):
    """Clients that vanish mid-stream must be cancelled and stop counting against the queue."""
    host, port = split_base(base_url)
    body = json.dumps({"model": MODEL, "messages": [{"role": "user", "content": "Tell me a long story."}],
                       "max_tokens": 2000, "ignore_eos": True, "stream": True}).encode()
    statuses = []
    for _ in range(20):
        conn = http.client.HTTPConnection(host, port, timeout=60)
        conn.request("POST", "/v1/chat/completions", body=body,
                     headers={"Authorization": f"Bearer {API_KEY}", "Content-Type": "application/json"})
        r = conn.getresponse()
        statuses.append(r.status)
        assert r.status in (200, 429, 503), r.status
        if r.status == 200:
            r.fp.readline()  # first bytes of the stream
        conn.sock.close()
        conn.close()
    assert 200 in statuses, statuses
    _wait_idle(base_url, 60, "after 20 clients disconnected mid-stream")
    # With nothing running or waiting (per /metrics), a new request must be admitted, not refused.
    t0 = time.monotonic()
    r = request(base_url, "POST", "/v1/chat/completions",
                {"model": MODEL, "messages": [{"role": "user", "content": "Hi"}], "max_tokens": 4})
    assert r.status == 200, (f"sequential clients that each disconnected got statuses {statuses}; with /metrics "
                             f"showing {_request_gauges(base_url)} a new request got {r.status}: {r.body[:300]!r}")
    assert time.monotonic() - t0 < 30


def test_client_disconnects_non_streaming(base_url):
    """A non-streaming request whose client goes away must be cancelled too (not run to max_tokens)."""
    host, port = split_base(base_url)
    body = json.dumps({"model": MODEL, "messages": [{"role": "user", "content": "Tell me a long story."}],
                       "max_tokens": 4000, "ignore_eos": True}).encode()
    conns = []
    for _ in range(3):
        conn = http.client.HTTPConnection(host, port, timeout=60)
        conn.request("POST", "/v1/chat/completions", body=body,
                     headers={"Authorization": f"Bearer {API_KEY}", "Content-Type": "application/json"})
        conns.append(conn)
    deadline = time.monotonic() + 30
    while _request_gauges(base_url).get("flint:num_requests_running", 0) < 1:
        assert time.monotonic() < deadline, "the non-streaming requests never started running"
        time.sleep(0.2)
    for conn in conns:
        conn.sock.close()
        conn.close()
    _wait_idle(base_url, 30, "after 3 non-streaming clients disconnected")
