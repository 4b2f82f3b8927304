import pytest

from edgecloud.errors import ContextLengthExceeded, InvalidRequest
from edgecloud.runtimes.textstream import token_budget
from edgecloud.serving.errors import validate
from edgecloud.serving.protocol import ChatCompletionRequest, CompletionRequest, EmbeddingRequest


def test_chat_request_maps_to_engine_request() -> None:
    body = validate(
        ChatCompletionRequest,
        {
            "model": "m",
            "messages": [{"role": "user", "content": [{"type": "text", "text": "hi"}]}],
            "max_tokens": 5,
            "temperature": 0,
            "stop": "x",
            "logprobs": True,
            "top_logprobs": 2,
            "seed": 7,
        },
    )
    request = body.to_inference("id-1")
    assert request.messages[0].content == "hi"
    assert request.sampling.max_tokens == 5
    assert request.sampling.stop == ("x",)
    assert request.sampling.top_logprobs == 2
    assert request.sampling.seed == 7


def test_wrong_types_name_the_parameter() -> None:
    with pytest.raises(InvalidRequest) as info:
        validate(ChatCompletionRequest, {"model": "m", "messages": "not a list"})
    assert info.value.status == 400
    assert info.value.param == "messages"


def test_out_of_range_temperature_is_rejected() -> None:
    with pytest.raises(InvalidRequest) as info:
        validate(
            ChatCompletionRequest,
            {"model": "m", "messages": [{"role": "user", "content": "x"}], "temperature": 5},
        )
    assert info.value.param == "temperature"


def test_body_must_be_an_object() -> None:
    with pytest.raises(InvalidRequest):
        validate(CompletionRequest, ["prompt"])


def test_empty_embedding_input_is_rejected() -> None:
    with pytest.raises(InvalidRequest):
        validate(EmbeddingRequest, {"model": "m", "input": ["ok", ""]})


def test_completion_logprobs_count_becomes_top_logprobs() -> None:
    request = validate(CompletionRequest, {"model": "m", "prompt": "a", "logprobs": 3}).to_inference("i")
    assert request.sampling.logprobs and request.sampling.top_logprobs == 3


def test_token_budget_defaults_to_the_room_left() -> None:
    assert token_budget(100, None, 4096) == 3996


def test_token_budget_beyond_context_is_a_context_length_error() -> None:
    with pytest.raises(ContextLengthExceeded) as info:
        token_budget(4000, 200, 4096)
    assert info.value.code == "context_length_exceeded"
    assert info.value.status == 400
