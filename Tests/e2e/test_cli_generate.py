"""`flint generate` runs the server's engine (issue 19: one generation path): its greedy tokens
equal the server's for the same prompt, and it takes the server's stop strings, structured
output (JSON schema, GBNF), LoRA adapters and parameter validation."""
from __future__ import annotations

import json
import subprocess

import jsonschema
import pytest

from conftest import _flint_bin
from e2e_util import MODEL, request
from test_adapters import make_adapter, upload

PROMPT = "The capital of France is"


def generate(*args: str, check: bool = True) -> subprocess.CompletedProcess:
    return subprocess.run([str(_flint_bin()), "generate", "--model", MODEL, *args],
                          capture_output=True, text=True, check=check, timeout=300)


def generate_json(*args: str) -> dict:
    return json.loads(generate(*args, "--json").stdout)


def server_completion(base_url: str, model: str = MODEL, **body) -> dict:
    resp = request(base_url, "POST", "/v1/completions",
                   {"model": model, "prompt": PROMPT, "temperature": 0, "return_token_ids": True, **body})
    assert resp.status == 200, resp.body
    return resp.json()["choices"][0]


def test_greedy_tokens_equal_the_servers(base_url):
    cli = generate_json("--prompt", PROMPT, "--raw", "--max-tokens", "24")
    server = server_completion(base_url, max_tokens=24)
    assert cli["ids"] == server["token_ids"]
    assert cli["text"] == server["text"]
    assert cli["finish_reason"] == server["finish_reason"] == "length"


def test_stop_string(base_url):
    full = generate_json("--prompt", PROMPT, "--raw", "--max-tokens", "24")["text"]
    words = full.split()
    assert len(words) >= 4, full
    stop = " " + words[2]  # a stop string in the middle of the greedy answer
    cli = generate_json("--prompt", PROMPT, "--raw", "--max-tokens", "24", "--stop", stop, "--stop", "unlikely-zzz")
    assert cli["finish_reason"] == "stop"
    assert cli["text"] == full[:full.index(stop)]
    server = server_completion(base_url, max_tokens=24, stop=[stop, "unlikely-zzz"])
    assert (server["text"], server["finish_reason"]) == (cli["text"], "stop")


SCHEMA = {"type": "object", "properties": {"name": {"type": "string", "maxLength": 20},
                                           "age": {"type": "integer", "minimum": 0, "maximum": 120}},
          "required": ["name", "age"], "additionalProperties": False}


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_json_schema(seed, tmp_path):
    path = tmp_path / "schema.json"
    path.write_text(json.dumps(SCHEMA))
    out = generate_json("--prompt", "Describe a person as JSON.", "--max-tokens", "80", "--temperature", "1",
                        "--seed", str(seed), "--json-schema", f"@{path}")
    assert out["finish_reason"] == "stop", out
    jsonschema.validate(json.loads(out["text"]), SCHEMA)


def test_grammar():
    out = generate_json("--prompt", "Is the sky blue? Answer yes or no.", "--max-tokens", "8", "--temperature", "1",
                        "--seed", "4", "--grammar", 'root ::= ("yes" | "no") "."')
    assert out["text"] in ("yes.", "no."), out
    assert out["finish_reason"] == "stop"


def test_lora_equals_the_server_with_the_same_adapter(base_url, tmp_path):
    folder = make_adapter(tmp_path / "adapter", seed=11, strength=1.0)
    base = generate_json("--prompt", PROMPT, "--raw", "--max-tokens", "16")
    adapted = generate_json("--prompt", PROMPT, "--raw", "--max-tokens", "16", "--lora", str(folder))
    assert adapted["ids"] != base["ids"]
    name = "cli-generate-lora"
    assert upload(base_url, name, folder).status in (200, 201)
    try:
        server = server_completion(base_url, model=f"{MODEL}:{name}", max_tokens=16)
    finally:
        request(base_url, "DELETE", f"/v1/adapters/{name}")
    assert adapted["ids"] == server["token_ids"]


def test_logprobs_equal_the_servers(base_url):
    cli = generate_json("--prompt", PROMPT, "--raw", "--max-tokens", "4", "--logprobs", "2")
    server = server_completion(base_url, max_tokens=4, logprobs=2)
    assert [round(lp["logprob"], 4) for lp in cli["logprobs"]] == [round(x, 4) for x in server["logprobs"]["token_logprobs"]]


@pytest.mark.parametrize("args,flag", [
    (["--temperature", "3"], "--temperature"),
    (["--top-p", "0"], "--top-p"),
    (["--max-tokens", "0"], "--max-tokens"),
    (["--presence-penalty", "5"], "--presence-penalty"),
    (["--stop", ""], "--stop"),
    (["--logprobs", "21"], "--logprobs"),
])
def test_invalid_parameters_name_the_flag(args, flag):
    r = generate("--prompt", "hi", *args, check=False)
    assert r.returncode != 0
    assert flag in r.stderr, r.stderr


def test_bad_adapter_and_schema_are_errors(tmp_path):
    r = generate("--prompt", "hi", "--lora", str(tmp_path / "missing"), check=False)
    assert r.returncode == 1 and "does not exist" in r.stderr, r.stderr
    r = generate("--prompt", "hi", "--json-schema", '{"type": "wizard"}', check=False)
    assert r.returncode != 0 and "--json-schema" in r.stderr, r.stderr
