"""Each runtime's four stages against the real bundled models, without HTTP in between."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from edgecloud.catalogue import Catalogue, LocalPath, ModelSpec
from edgecloud.config import NodeSettings
from edgecloud.runtimes import create_runtime
from edgecloud.runtimes.base import ChatMessage, InferenceRequest, Runtime, SamplingParams
from edgecloud.serving.launcher import NodeProcess
from tests.conftest import CHAT, EMBED

pytestmark = pytest.mark.slow

SENTENCES = [
    "The edge answers fast and works offline.",
    "Big batches and big models belong in the cloud.",
    "naïve café déjà vu — unicode survives",
    "short",
    "word " * 400,  # longer than the 256-token window: truncated exactly like sentence-transformers
]


def _local(name: str) -> ModelSpec:
    catalogue = Catalogue(NodeSettings().cache_dir)
    spec = catalogue.resolve(name)
    return replace(spec, source=LocalPath(catalogue.materialize(spec)))


def _generate(runtime: Runtime, request: InferenceRequest) -> tuple[str, str | None, int]:
    prepared = runtime.preprocess(request)
    text, finish, count = "", None, 0
    for step in runtime.infer([prepared]):
        result = runtime.postprocess(step)
        text += result.text
        finish, count = result.finish_reason, result.completion_tokens
        if finish:
            break
    return text, finish, count


def test_minilm_matches_sentence_transformers_within_1e4_cosine() -> None:
    from sentence_transformers import SentenceTransformer

    spec = _local(EMBED)
    runtime = create_runtime(spec, threads=2)
    runtime.load(spec)
    request = InferenceRequest("e", "embedding", inputs=tuple(SENTENCES))
    ours = next(iter(runtime.infer([runtime.preprocess(request)]))).vectors
    reference = SentenceTransformer(str(spec.source.path), device="cpu").encode(
        SENTENCES, normalize_embeddings=True
    )
    cosine_distance = 1 - np.sum(ours * reference, axis=1)
    assert np.all(np.abs(cosine_distance) < 1e-4), cosine_distance


def test_transformers_decoder_runs_the_gguf_dequantised() -> None:
    spec = replace(_local(CHAT), runtime="transformers")
    runtime = create_runtime(spec, threads=2, n_ctx=2048)
    runtime.load(spec)
    request = InferenceRequest(
        "t",
        "chat",
        messages=(ChatMessage("user", "What is the capital of France?"),),
        sampling=SamplingParams(max_tokens=16, temperature=0),
    )
    text, finish, count = _generate(runtime, request)
    assert "Paris" in text
    assert finish in ("stop", "length") and count >= 3
    sampled = replace(request, sampling=SamplingParams(max_tokens=12, temperature=0.9, seed=5))
    assert _generate(runtime, sampled) == _generate(runtime, sampled)


def test_llamacpp_stop_and_length_through_the_four_stages() -> None:
    spec = _local(CHAT)
    runtime = create_runtime(spec, threads=2)
    runtime.load(spec)
    request = InferenceRequest(
        "c", "completion", prompt="1, 2, 3,", sampling=SamplingParams(max_tokens=5, temperature=0)
    )
    text, finish, count = _generate(runtime, request)
    assert (finish, count) == ("length", 5)
    stopped = replace(request, sampling=SamplingParams(max_tokens=20, temperature=0, stop=(",",)))
    cut, finish, _ = _generate(runtime, stopped)
    assert finish == "stop" and "," not in cut and text.startswith(cut)
    runtime.close()


def test_remote_runtime_fronts_another_node(node: NodeProcess) -> None:
    remote_spec = ModelSpec(
        name="remote-chat",
        kind="chat",
        runtime="remote",
        format="gguf",
        source=LocalPath(Path(".")),
        options={"base_url": node.url, "model": CHAT},
    )
    remote = create_runtime(remote_spec, threads=1)
    remote.load(remote_spec)
    request = InferenceRequest(
        "r",
        "chat",
        messages=(ChatMessage("user", "What is the capital of France?"),),
        sampling=SamplingParams(max_tokens=16, temperature=0),
    )
    text, finish, _ = _generate(remote, request)
    local = _local(CHAT)
    engine = create_runtime(local, threads=2)
    engine.load(local)
    assert text == _generate(engine, request)[0]
    assert finish == "stop"
    embed_spec = replace(remote_spec, kind="embedding", options={"base_url": node.url, "model": EMBED})
    embedder = create_runtime(embed_spec, threads=1)
    embedder.load(embed_spec)
    step = next(
        iter(embedder.infer([embedder.preprocess(InferenceRequest("e", "embedding", inputs=("x", "y")))]))
    )
    assert step.vectors.shape == (2, 384)


def test_a_node_serves_a_gguf_file_and_an_hf_folder_given_by_path() -> None:
    import httpx

    gguf = str(_local(CHAT).source.path)  # type: ignore[union-attr]
    folder = str(_local(EMBED).source.path)  # type: ignore[union-attr]
    with NodeProcess([gguf, folder]) as node:
        node.wait_ready(120)
        ids = [m["id"] for m in httpx.get(f"{node.url}/v1/models").json()["data"]]
        assert ids == [Path(gguf).stem.lower(), Path(folder).name.lower()]
        chat = httpx.post(
            f"{node.url}/v1/chat/completions",
            timeout=60,
            json={
                "model": ids[0],
                "messages": [{"role": "user", "content": "What is the capital of France?"}],
                "max_tokens": 8,
                "temperature": 0,
            },
        )
        assert chat.status_code == 200 and chat.json()["choices"][0]["message"]["content"]
        embedded = httpx.post(f"{node.url}/v1/embeddings", json={"model": ids[1], "input": "x"}, timeout=60)
        assert len(embedded.json()["data"][0]["embedding"]) == 384


def test_the_kept_dequantised_copy_matches_a_fresh_dequantisation_and_serves_as_a_folder(
    tmp_path: Path,
) -> None:
    import shutil

    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from edgecloud.catalogue import spec_for_path
    from edgecloud.runtimes.gguf_hf import dequantized_folder, load_gguf_decoder

    gguf = _local(CHAT).source.path  # type: ignore[union-attr]
    load_gguf_decoder(gguf)  # keeps the copy (or finds the one an earlier load kept)
    kept = AutoModelForCausalLM.from_pretrained(dequantized_folder(gguf))
    fresh = AutoModelForCausalLM.from_pretrained(gguf.parent, gguf_file=gguf.name)
    tokenizer = AutoTokenizer.from_pretrained(gguf.parent, gguf_file=gguf.name)
    ids = tokenizer("The capital of France is", return_tensors="pt")
    with torch.inference_mode():
        assert torch.equal(kept(**ids).logits, fresh(**ids).logits)
    shutil.copytree(dequantized_folder(gguf), tmp_path, dirs_exist_ok=True)
    spec = spec_for_path(tmp_path)
    assert (spec.kind, spec.runtime) == ("chat", "transformers")
    runtime = create_runtime(spec, threads=2, n_ctx=1024)
    runtime.load(spec)
    request = InferenceRequest(
        "f",
        "chat",
        messages=(
            ChatMessage("system", "You are a helpful AI assistant."),
            ChatMessage("user", "What is the capital of France?"),
        ),
        sampling=SamplingParams(max_tokens=12, temperature=0),
    )
    text, _, _ = _generate(runtime, request)
    assert "Paris" in text


def test_the_cloud_tiers_default_model_is_served_verified_and_knows_its_facts() -> None:
    import httpx

    from edgecloud.catalogue import default_model

    name = default_model("cloud").name
    with NodeProcess([name], args=["--threads", "1", "--tier", "cloud"]) as node:
        node.wait_ready(300)
        answer = httpx.post(
            f"{node.url}/v1/chat/completions",
            timeout=120,
            json={
                "model": name,
                "messages": [{"role": "user", "content": "What is the capital of Australia? One word."}],
                "max_tokens": 8,
                "temperature": 0,
            },
        ).json()["choices"][0]["message"]["content"]
        assert "Canberra" in answer
    assert Catalogue(NodeSettings().cache_dir).verify(default_model("cloud"))
