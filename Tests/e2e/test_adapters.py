"""LoRA adapters over HTTP: upload (multipart and server path), use by model name, listing, deletion,
persistence across a restart, and bad adapters that must be refused with a 4xx."""
from __future__ import annotations

import json
import os
import shutil
import struct
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

import pytest

from conftest import _flint_bin, _start_server, _stop_server
from e2e_util import API_KEY, request

BASE = "smollm2-135m-instruct"
UPLOAD_LIMIT = 8 << 20


def make_adapter(out: Path, base: str = BASE, rank: int = 8, seed: int = 1, targets: str = "q,v",
                 strength: float = 0.5) -> Path:
    subprocess.run([str(_flint_bin()), "lora", "random", "--base", base, "--rank", str(rank), "--seed", str(seed),
                    "--targets", targets, "--strength", str(strength), "--out", str(out)],
                   check=True, capture_output=True)
    return out


def multipart(fields: dict, files: dict) -> tuple[bytes, str]:
    boundary = "flint" + uuid.uuid4().hex
    out = b""
    for k, v in fields.items():
        out += f'--{boundary}\r\nContent-Disposition: form-data; name="{k}"\r\n\r\n{v}\r\n'.encode()
    for filename, data in files.items():
        out += (f'--{boundary}\r\nContent-Disposition: form-data; name="files"; filename="{filename}"\r\n'
                f'Content-Type: application/octet-stream\r\n\r\n').encode() + data + b"\r\n"
    out += f"--{boundary}--\r\n".encode()
    return out, f"multipart/form-data; boundary={boundary}"


def upload(base_url: str, name: str, folder: Path | None = None, files: dict | None = None):
    if files is None:
        files = {f: (folder / f).read_bytes() for f in ("adapter_config.json", "adapter_model.safetensors")}
    body, ctype = multipart({"name": name}, files)
    return request(base_url, "POST", "/v1/adapters", body, headers={"Content-Type": ctype})


def chat(base_url: str, model: str, content: str = "Name three colors.", max_tokens: int = 12):
    return request(base_url, "POST", "/v1/chat/completions",
                   {"model": model, "max_tokens": max_tokens, "temperature": 0,
                    "messages": [{"role": "user", "content": content}]})


@pytest.fixture(scope="module")
def store(tmp_path_factory):
    return tmp_path_factory.mktemp("adapter-store")


@pytest.fixture(scope="module")
def adapters_server(store):
    server = _start_server(BASE, ["--lora-dir", str(store), "--max-adapter-upload", str(UPLOAD_LIMIT)], "server-adapters.log")
    yield server
    _stop_server(server)


@pytest.fixture(scope="module")
def adapter_dir(tmp_path_factory):
    return make_adapter(tmp_path_factory.mktemp("a1") / "a1")


def test_upload_then_first_answer(adapters_server, adapter_dir):
    url = adapters_server.base_url
    base = chat(url, BASE)
    assert base.status == 200
    t0 = time.perf_counter()
    r = upload(url, "a1", adapter_dir)
    t1 = time.perf_counter()
    assert r.status == 201, r.body
    info = r.json()
    assert info["id"] == f"{BASE}:a1" and info["parent"] == BASE and info["rank"] == 8
    assert sorted(info["target_modules"]) == ["q_proj", "v_proj"]
    first = chat(url, f"{BASE}:a1", max_tokens=1)
    t2 = time.perf_counter()
    assert first.status == 200, first.body
    print(f"\n[adapters] upload {1000 * (t1 - t0):.0f} ms; first answer (1 token) "
          f"{1000 * (t2 - t1):.0f} ms after the upload completed", file=sys.stderr)
    tuned = chat(url, f"{BASE}:a1")
    assert tuned.status == 200
    # The adapter changes what the model says (it is strong on purpose).
    assert tuned.json()["choices"][0]["message"]["content"] != base.json()["choices"][0]["message"]["content"]
    # Other spellings of the same adapter give the same greedy answer.
    for name in ("accounts/acme/models/a1", "a1"):
        again = chat(url, name)
        assert again.status == 200
        assert again.json()["choices"][0]["message"]["content"] == tuned.json()["choices"][0]["message"]["content"]


def test_listing_and_models(adapters_server):
    url = adapters_server.base_url
    names = [a["name"] for a in request(url, "GET", "/v1/adapters").json()["data"]]
    assert "a1" in names
    models = request(url, "GET", "/v1/models").json()["data"]
    entry = next(m for m in models if m["id"] == f"{BASE}:a1")
    assert entry["parent"] == BASE
    assert request(url, "GET", f"/v1/models/{BASE}:a1").json()["parent"] == BASE
    assert request(url, "GET", f"/v1/models/{BASE}:nope").status == 404


def test_register_from_server_path_and_delete(adapters_server, tmp_path):
    url = adapters_server.base_url
    folder = make_adapter(tmp_path / "a2", seed=2)
    r = request(url, "POST", "/v1/adapters", {"name": "a2", "path": str(folder)})
    assert r.status == 201, r.body
    assert chat(url, f"{BASE}:a2").status == 200
    assert request(url, "POST", "/v1/adapters", {"name": "a2", "path": str(folder)}).status == 409
    d = request(url, "DELETE", "/v1/adapters/a2")
    assert d.status == 200 and d.json()["deleted"] is True
    assert chat(url, f"{BASE}:a2").status == 404
    assert request(url, "DELETE", "/v1/adapters/a2").status == 404


def test_mixed_requests_in_parallel(adapters_server, tmp_path):
    from concurrent.futures import ThreadPoolExecutor
    url = adapters_server.base_url
    for i in (3, 4):
        assert upload(url, f"p{i}", make_adapter(tmp_path / f"p{i}", seed=i)).status == 201
    models = [BASE, f"{BASE}:p3", f"{BASE}:p4", f"{BASE}:a1"] * 3
    alone = {m: chat(url, m).json()["choices"][0]["message"]["content"] for m in set(models)}
    with ThreadPoolExecutor(max_workers=len(models)) as pool:
        together = list(pool.map(lambda m: chat(url, m), models))
    for m, r in zip(models, together):
        assert r.status == 200
        assert r.json()["choices"][0]["message"]["content"] == alone[m], m


def _lying_safetensors(folder: Path) -> bytes:
    data = (folder / "adapter_model.safetensors").read_bytes()
    n = struct.unpack("<Q", data[:8])[0]
    header = json.loads(data[8:8 + n])
    key = next(k for k in header if k != "__metadata__")
    header[key]["data_offsets"][1] += 1 << 20  # claims more bytes than the file has
    h = json.dumps(header).encode()
    return struct.pack("<Q", len(h)) + h + data[8 + n:]


def test_bad_adapters_are_4xx_and_server_stays_healthy(adapters_server, adapter_dir, tmp_path):
    url = adapters_server.base_url
    config = (adapter_dir / "adapter_config.json").read_bytes()
    weights = (adapter_dir / "adapter_model.safetensors").read_bytes()
    qwen = make_adapter(tmp_path / "qwen", base="qwen2.5-coder-0.5b-instruct")
    cases = {
        "wrong base": (upload(url, "wrongbase", qwen), 400),
        "truncated weights": (upload(url, "trunc", files={"adapter_config.json": config,
                                                           "adapter_model.safetensors": weights[:len(weights) // 2]}), 400),
        "lying header": (upload(url, "lying", files={"adapter_config.json": config,
                                                      "adapter_model.safetensors": _lying_safetensors(adapter_dir)}), 400),
        "huge header length": (upload(url, "huge", files={"adapter_config.json": config,
                                                           "adapter_model.safetensors": struct.pack("<Q", 1 << 62) + b"{}"}), 400),
        "config not json": (upload(url, "badcfg", files={"adapter_config.json": b"{not json",
                                                          "adapter_model.safetensors": weights}), 400),
        "missing weights": (upload(url, "missing", files={"adapter_config.json": config}), 400),
        "unexpected file": (upload(url, "extra", files={"adapter_config.json": config, "adapter_model.safetensors": weights,
                                                         "run.sh": b"#!/bin/sh"}), 400),
        "slash in name": (upload(url, "a/b", adapter_dir), 400),
        "dot-dot name": (upload(url, "..", adapter_dir), 400),
        "dot-dot path name": (request(url, "POST", "/v1/adapters", {"name": "../evil", "path": str(adapter_dir)}), 400),
        "no such path": (request(url, "POST", "/v1/adapters", {"name": "nopath", "path": "/nonexistent/adapter"}), 400),
        "oversized": (upload(url, "big", files={"adapter_config.json": config,
                                                "adapter_model.safetensors": b"\0" * (UPLOAD_LIMIT + 1)}), 413),
        "not multipart or json": (request(url, "POST", "/v1/adapters", b"\x00\x01garbage",
                                          headers={"Content-Type": "application/octet-stream"}), 400),
    }
    # Malformed multipart bodies (split by multipart-kit's parser): each is a 400.
    body, ctype = multipart({"name": "mp"}, {"adapter_config.json": config, "adapter_model.safetensors": weights})
    boundary = ctype.split("boundary=")[1].encode()
    for what, raw in {
        "truncated multipart": body[:len(body) // 2],
        "no parts": b"--" + boundary + b"--\r\n",
        "no boundary in body": b"just text",
        "part without disposition": b"--" + boundary + b"\r\nX-Other: 1\r\n\r\ndata\r\n--" + boundary + b"--\r\n",
        "part without name": b"--" + boundary + b'\r\nContent-Disposition: form-data; filename="a"\r\n\r\nx\r\n--'
                             + boundary + b"--\r\n",
        "other boundary": body.replace(boundary, b"x" * len(boundary)),
    }.items():
        cases[what] = (request(url, "POST", "/v1/adapters", raw, headers={"Content-Type": ctype}), 400)
    for what, (r, status) in cases.items():
        assert r.status == status, f"{what}: {r.status} {r.body[:300]!r}"
        assert r.json()["error"]["message"], what
    names = [a["name"] for a in request(url, "GET", "/v1/adapters").json()["data"]]
    assert not set(names) & {"wrongbase", "trunc", "lying", "huge", "badcfg", "missing", "extra", "big"}
    assert chat(url, BASE).status == 200
    assert chat(url, f"{BASE}:a1").status == 200
    assert request(url, "GET", "/health").status == 200


def test_adapters_survive_a_restart(adapters_server, store):
    """Run last in this module: a second server on the same store sees the adapters."""
    url = adapters_server.base_url
    before = {a["name"] for a in request(url, "GET", "/v1/adapters").json()["data"]}
    answer = chat(url, f"{BASE}:a1").json()["choices"][0]["message"]["content"]
    second = _start_server(BASE, ["--lora-dir", str(store)], "server-adapters-2.log")
    try:
        after = {a["name"] for a in request(second.base_url, "GET", "/v1/adapters").json()["data"]}
        assert after == before
        r = chat(second.base_url, f"{BASE}:a1")
        assert r.status == 200 and r.json()["choices"][0]["message"]["content"] == answer
    finally:
        _stop_server(second)
