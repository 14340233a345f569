"""Predicted outputs (`prediction`) through the official `openai` SDK: the same text as without
a prediction at temperature 0, and usage that reports and bills the prediction's tokens."""
from __future__ import annotations

import openai
import pytest

from e2e_util import API_KEY, check_error_body, request

CODER = "qwen2.5-coder-0.5b-instruct"
CODE = '''def mean(values):
    total = 0
    for v in values:
        total += v
    return total / len(values)


def spread(values):
    return max(values) - min(values)
'''
MESSAGES = [{"role": "user", "content": "Rename the function `mean` to `average` in this code. "
                                        "Reply with the complete code only.\n\n```python\n" + CODE + "```"}]


@pytest.fixture(scope="module")
def coder(model_servers):
    c = openai.OpenAI(base_url=f"{model_servers(CODER).base_url}/v1", api_key=API_KEY, max_retries=0, timeout=300)
    yield c
    c.close()


def _check_prediction_usage(usage, emitted_tokens=None):
    details = usage.completion_tokens_details
    assert details is not None, usage
    accepted, rejected = details.accepted_prediction_tokens, details.rejected_prediction_tokens
    assert isinstance(accepted, int) and isinstance(rejected, int), usage
    assert accepted > 0, f"the output follows the code, so proposals should be accepted: {usage}"
    assert usage.total_tokens == usage.prompt_tokens + usage.completion_tokens, usage
    # Rejected prediction tokens are billed as completion tokens, as OpenAI does.
    assert usage.completion_tokens >= accepted + rejected, usage
    if emitted_tokens is not None:
        assert usage.completion_tokens == emitted_tokens + rejected, usage


def test_prediction_gives_the_same_text(coder):
    plain = coder.chat.completions.create(model=CODER, messages=MESSAGES, max_tokens=120, temperature=0)
    predicted = coder.chat.completions.create(model=CODER, messages=MESSAGES, max_tokens=120, temperature=0,
                                              prediction={"type": "content", "content": CODE})
    assert predicted.choices[0].message.content == plain.choices[0].message.content
    assert predicted.choices[0].finish_reason == plain.choices[0].finish_reason
    _check_prediction_usage(predicted.usage, emitted_tokens=plain.usage.completion_tokens)
    details = plain.usage.completion_tokens_details
    assert details.accepted_prediction_tokens == 0 and details.rejected_prediction_tokens == 0


def test_prediction_streamed_with_text_parts(coder):
    plain = coder.chat.completions.create(model=CODER, messages=MESSAGES, max_tokens=80, temperature=0)
    parts = [{"type": "text", "text": CODE[:40]}, {"type": "text", "text": CODE[40:]}]
    stream = coder.chat.completions.create(model=CODER, messages=MESSAGES, max_tokens=80, temperature=0, stream=True,
                                           stream_options={"include_usage": True},
                                           prediction={"type": "content", "content": parts})
    text, usage = "", None
    for chunk in stream:
        if chunk.choices:
            text += chunk.choices[0].delta.content or ""
        if chunk.usage is not None:
            usage = chunk.usage
    assert text == plain.choices[0].message.content
    assert usage is not None, "the final chunk carries usage"
    _check_prediction_usage(usage, emitted_tokens=plain.usage.completion_tokens)


def test_prediction_on_completions(coder):
    prompt = "# Python\n" + CODE + "\n# The same code again:\n"
    plain = coder.completions.create(model=CODER, prompt=prompt, max_tokens=60, temperature=0)
    predicted = coder.completions.create(model=CODER, prompt=prompt, max_tokens=60, temperature=0,
                                         extra_body={"prediction": {"type": "content", "content": CODE}})
    assert predicted.choices[0].text == plain.choices[0].text
    _check_prediction_usage(predicted.usage, emitted_tokens=plain.usage.completion_tokens)


@pytest.mark.parametrize("prediction", [
    "just a string",
    {"type": "text", "content": "x"},
    {"type": "content"},
    {"type": "content", "content": 42},
    {"type": "content", "content": [{"type": "image_url", "image_url": {"url": "x"}}]},
    {"type": "content", "content": [{"type": "text"}]},
    {"type": "content", "content": "x" * (1 << 20 + 1)},
])
def test_malformed_prediction_is_a_400(model_servers, prediction):
    base = model_servers(CODER).base_url
    r = request(base, "POST", "/v1/chat/completions",
                {"model": CODER, "messages": MESSAGES, "max_tokens": 4, "prediction": prediction})
    assert r.status == 400, r.body[:300]
    assert check_error_body(r) is None, check_error_body(r)
    assert r.json()["error"]["param"] == "prediction", r.body[:300]


def test_speculation_metrics(model_servers, coder):
    coder.chat.completions.create(model=CODER, messages=MESSAGES, max_tokens=30, temperature=0,
                                  prediction={"type": "content", "content": CODE})
    r = request(model_servers(CODER).base_url, "GET", "/metrics")
    assert r.status == 200
    text = r.body.decode()
    for name in ("flint:spec_decode_num_draft_tokens_total", "flint:spec_decode_num_accepted_tokens_total"):
        lines = [l for l in text.splitlines() if l.startswith(name) and 'proposer="prediction"' in l]
        assert lines and float(lines[0].split()[-1]) > 0, f"{name} missing or zero:\n{text[:2000]}"
