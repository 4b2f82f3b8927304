"""Bad input gets an OpenAI-style error with the right status, never a 500 or a stack trace."""

from __future__ import annotations

import httpx
import openai
import pytest

from edgecloud.serving.launcher import NodeProcess
from tests.conftest import BASE, CHAT, EMBED
from tests.hostile import bodies

pytestmark = pytest.mark.slow


def _error(response: httpx.Response) -> dict[str, object]:
    body = response.json()
    assert set(body["error"]) == {"message", "type", "param", "code"}
    return dict(body["error"])


def test_unknown_model_is_404_model_not_found(openai_client) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(openai.NotFoundError) as info:
        openai_client.chat.completions.create(model="gpt-17", messages=[{"role": "user", "content": "hi"}])
    assert info.value.status_code == 404
    assert info.value.code == "model_not_found"


def test_prompt_plus_max_tokens_beyond_context_is_400(openai_client) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(openai.BadRequestError) as info:
        openai_client.chat.completions.create(
            model=CHAT, messages=[{"role": "user", "content": "hi"}], max_tokens=100_000
        )
    assert info.value.code == "context_length_exceeded"
    long_prompt = "word " * 5000
    with pytest.raises(openai.BadRequestError) as info:
        openai_client.completions.create(model=CHAT, prompt=long_prompt, max_tokens=10)
    assert info.value.code == "context_length_exceeded"


@pytest.mark.parametrize("raw", [b"{not json", b"", b"[1, 2]", '{"model": "\u00e9"'.encode()])
def test_malformed_json_is_400(node: NodeProcess, raw: bytes) -> None:
    response = httpx.post(
        f"{node.url}/v1/chat/completions", content=raw, headers={"content-type": "application/json"}
    )
    assert response.status_code == 400
    assert _error(response)["type"] == "invalid_request_error"


@pytest.mark.parametrize("name,raw", sorted(bodies(CHAT).items()))
@pytest.mark.parametrize("path", ["/v1/chat/completions", "/v1/embeddings", "/v1/completions"])
def test_hostile_json_is_400_and_the_node_answers_after(
    node: NodeProcess, path: str, name: str, raw: bytes
) -> None:
    response = httpx.post(f"{node.url}{path}", content=raw, headers={"content-type": "application/json"})
    assert response.status_code == 400, response.text
    assert "request body" in str(_error(response)["message"])
    assert httpx.get(f"{node.url}/health", timeout=10).status_code == 200


@pytest.mark.parametrize(
    "raw",
    [
        b"garbage\r\n--xx\r\nnot a header\r\n\r\nzz",
        b'--xx\r\nContent-Disposition: form-data; name="file"\r\n\r\n\x00\x01',
        b"--xx\r\n" + b"Content-Type: x\r\n" * 5000,
    ],
)
def test_garbage_multipart_is_400(node: NodeProcess, raw: bytes) -> None:
    response = httpx.post(
        f"{node.url}/v1/audio/transcriptions",
        content=raw,
        headers={"content-type": "multipart/form-data; boundary=xx"},
        timeout=30,
    )
    assert response.status_code == 400, response.text
    assert _error(response)["type"] == "invalid_request_error"


@pytest.mark.parametrize(
    "body,param",
    [
        ({"model": CHAT, "messages": "hello"}, "messages"),
        ({"model": CHAT, "messages": [{"role": "user", "content": "x"}], "max_tokens": "ten"}, "max_tokens"),
        ({"model": CHAT, "messages": [{"role": "wizard", "content": "x"}]}, "messages.0.role"),
        ({"messages": [{"role": "user", "content": "x"}]}, "model"),
        ({"model": EMBED, "input": 42}, "input"),
    ],
)
def test_wrong_types_are_400_not_422(node: NodeProcess, body: dict[str, object], param: str) -> None:
    path = "/v1/embeddings" if "input" in body else "/v1/chat/completions"
    response = httpx.post(f"{node.url}{path}", json=body)
    assert response.status_code == 400
    assert str(_error(response)["param"]).startswith(param)


def test_an_empty_prompt_is_400_not_a_failed_model(node: NodeProcess) -> None:
    response = httpx.post(f"{node.url}/v1/completions", json={"model": CHAT, "prompt": "", "max_tokens": 2})
    assert response.status_code == 400
    assert _error(response)["param"] == "prompt"


def test_oversized_body_is_413(node: NodeProcess) -> None:
    body = {"model": EMBED, "input": ["x" * 1000] * 5000}
    response = httpx.post(f"{node.url}/v1/embeddings", json=body)
    assert response.status_code == 413
    assert _error(response)["code"] == "request_too_large"


def test_embedding_model_refuses_chat_and_chat_model_refuses_embeddings(node: NodeProcess) -> None:
    chat = httpx.post(
        f"{node.url}/v1/chat/completions",
        json={"model": EMBED, "messages": [{"role": "user", "content": "x"}]},
    )
    assert chat.status_code == 400
    emb = httpx.post(f"{node.url}/v1/embeddings", json={"model": BASE, "input": "x"})
    assert emb.status_code == 400


def test_unknown_route_is_a_json_404(node: NodeProcess) -> None:
    response = httpx.get(f"{node.url}/v1/nothing")
    assert response.status_code == 404
    assert _error(response)["code"] == "not_found"


def test_base_model_without_template_refuses_chat(node: NodeProcess) -> None:
    response = httpx.post(
        f"{node.url}/v1/chat/completions",
        json={"model": BASE, "messages": [{"role": "user", "content": "x"}]},
    )
    # Gemma 3 base ships a chat template in its GGUF; either it answers or it says why it cannot.
    assert response.status_code in (200, 400)
    if response.status_code == 400:
        assert "template" in str(_error(response)["message"])
