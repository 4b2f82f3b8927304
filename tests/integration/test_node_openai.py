"""The node through the official openai client, against the real bundled models."""

from __future__ import annotations

import pytest

from tests.conftest import BASE, CHAT, EMBED

pytestmark = pytest.mark.slow

QUESTION = [{"role": "user", "content": "What is the capital of France?"}]


def test_chat_answers_with_usage(openai_client) -> None:  # type: ignore[no-untyped-def]
    response = openai_client.chat.completions.create(
        model=CHAT, messages=QUESTION, temperature=0, max_tokens=32
    )
    choice = response.choices[0]
    assert choice.message.role == "assistant"
    assert "Paris" in choice.message.content
    assert choice.finish_reason == "stop"
    assert response.usage.prompt_tokens > 5
    assert response.usage.total_tokens == response.usage.prompt_tokens + response.usage.completion_tokens


def test_streamed_chat_equals_the_whole_answer(openai_client) -> None:  # type: ignore[no-untyped-def]
    whole = openai_client.chat.completions.create(model=CHAT, messages=QUESTION, temperature=0, max_tokens=24)
    stream = openai_client.chat.completions.create(
        model=CHAT,
        messages=QUESTION,
        temperature=0,
        max_tokens=24,
        stream=True,
        stream_options={"include_usage": True},
    )
    pieces, finish, usage = [], None, None
    for chunk in stream:
        if chunk.usage:
            usage = chunk.usage
        for choice in chunk.choices:
            pieces.append(choice.delta.content or "")
            finish = choice.finish_reason or finish
    assert "".join(pieces) == whole.choices[0].message.content
    assert finish == whole.choices[0].finish_reason
    assert usage is not None and usage.completion_tokens == whole.usage.completion_tokens


def test_same_seed_gives_the_same_sampled_answer(openai_client) -> None:  # type: ignore[no-untyped-def]
    def sample(seed: int) -> str:
        response = openai_client.chat.completions.create(
            model=CHAT,
            messages=[{"role": "user", "content": "Write a short poem about the sea."}],
            temperature=1.0,
            top_p=0.95,
            seed=seed,
            max_tokens=24,
        )
        return str(response.choices[0].message.content)

    first = sample(1234)
    assert sample(1234) == first
    assert any(sample(seed) != first for seed in (1, 2, 3))


def test_max_tokens_ends_with_length(openai_client) -> None:  # type: ignore[no-untyped-def]
    response = openai_client.completions.create(
        model=BASE, prompt="The history of the city of Rome", max_tokens=7, temperature=0
    )
    assert response.choices[0].finish_reason == "length"
    assert response.usage.completion_tokens == 7
    assert response.choices[0].text


def test_stop_sequence_cuts_the_answer(openai_client) -> None:  # type: ignore[no-untyped-def]
    free = openai_client.completions.create(model=BASE, prompt="1, 2, 3, 4,", max_tokens=12, temperature=0)
    text = free.choices[0].text
    assert "," in text
    cut = openai_client.completions.create(
        model=BASE, prompt="1, 2, 3, 4,", max_tokens=12, temperature=0, stop=[","]
    )
    assert cut.choices[0].text == text.split(",")[0]
    assert cut.choices[0].finish_reason == "stop"


def test_chat_logprobs_are_real_log_probabilities(openai_client) -> None:  # type: ignore[no-untyped-def]
    response = openai_client.chat.completions.create(
        model=CHAT, messages=QUESTION, temperature=0, max_tokens=8, logprobs=True, top_logprobs=3
    )
    content = response.choices[0].logprobs.content
    assert len(content) == response.usage.completion_tokens
    assert "".join(item.token for item in content) == response.choices[0].message.content
    for item in content:
        assert item.logprob <= 0
        assert len(item.top_logprobs) == 3
        # greedy decoding picks the most likely token, so it is the first alternative
        assert item.top_logprobs[0].token == item.token
        assert item.top_logprobs[0].logprob == pytest.approx(item.logprob, abs=1e-5)
        ranked = [alt.logprob for alt in item.top_logprobs]
        assert ranked == sorted(ranked, reverse=True)


def test_logprobs_do_not_change_the_answer(openai_client) -> None:  # type: ignore[no-untyped-def]
    plain = openai_client.chat.completions.create(model=CHAT, messages=QUESTION, temperature=0, max_tokens=20)
    with_lp = openai_client.chat.completions.create(
        model=CHAT, messages=QUESTION, temperature=0, max_tokens=20, logprobs=True
    )
    assert plain.choices[0].message.content == with_lp.choices[0].message.content


def test_completion_logprobs_legacy_shape(openai_client) -> None:  # type: ignore[no-untyped-def]
    response = openai_client.completions.create(
        model=BASE, prompt="Once upon a time", max_tokens=5, temperature=0, logprobs=2
    )
    logprobs = response.choices[0].logprobs
    assert len(logprobs.tokens) == 5 == len(logprobs.token_logprobs)
    assert all(len(top) == 2 for top in logprobs.top_logprobs)
    assert logprobs.text_offset[0] == 0


def test_streamed_completion(openai_client) -> None:  # type: ignore[no-untyped-def]
    stream = openai_client.completions.create(
        model=BASE, prompt="The sky is", max_tokens=6, temperature=0, stream=True
    )
    texts = [chunk.choices[0].text for chunk in stream if chunk.choices]
    whole = openai_client.completions.create(model=BASE, prompt="The sky is", max_tokens=6, temperature=0)
    assert "".join(texts) == whole.choices[0].text


def test_embeddings_for_a_string_and_a_list(openai_client) -> None:  # type: ignore[no-untyped-def]
    import numpy as np

    single = openai_client.embeddings.create(model=EMBED, input="edge devices answer fast")
    assert len(single.data) == 1 and len(single.data[0].embedding) == 384
    batch = openai_client.embeddings.create(
        model=EMBED, input=["a cat sits", "a kitten sits", "tax law"], encoding_format="float"
    )
    vectors = np.array([item.embedding for item in batch.data])
    assert np.allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)
    similarity = vectors @ vectors.T
    assert similarity[0, 1] > similarity[0, 2]
    assert batch.usage.prompt_tokens > 3


def test_models_lists_every_served_model(openai_client) -> None:  # type: ignore[no-untyped-def]
    ids = {model.id for model in openai_client.models.list()}
    assert ids == {CHAT, BASE, EMBED}
