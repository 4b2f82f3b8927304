import json
from pathlib import Path

import pytest

from edgecloud.errors import InvalidRequest
from edgecloud.gateway.inbound import Inbound, parse_inbound, task_alias, tier_payload
from edgecloud.gateway.topology import load_topology

YAML = """\
tiers:
  edge:
    upstreams:
      - url: http://127.0.0.1:8001
    chat_model: smollm2-135m-instruct
  cloud:
    upstreams:
      - url: http://127.0.0.1:8002
        api_key_env: CLOUD_KEY
    price:
      input_per_1k: 0.5
      output_per_1k: nope
policies: [privacy, hint, offline]
"""


def test_errors_name_the_field_and_the_line(tmp_path: Path) -> None:
    path = tmp_path / "topology.yaml"
    path.write_text(YAML)
    with pytest.raises(InvalidRequest) as info:
        load_topology(path, env={})
    assert f"{path}:12: tiers.cloud.price.output_per_1k" in info.value.message


def test_env_overrides_file_values(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "topology.yaml"
    path.write_text(YAML.replace("nope", "1.5"))
    topology = load_topology(
        path,
        env={
            "EDGECLOUD_GATEWAY__TIERS__CLOUD__PRICE__OUTPUT_PER_1K": "2.5",
            "EDGECLOUD_GATEWAY__BREAKER__FAILURES": "7",
        },
    )
    assert topology.tiers["cloud"].price.output_per_1k == 2.5
    assert topology.breaker.failures == 7
    assert topology.policies == ["privacy", "hint", "offline"]
    monkeypatch.setenv("CLOUD_KEY", "sk-test")
    assert topology.tiers["cloud"].upstreams[0].api_key() == "sk-test"


def test_unknown_keys_are_refused(tmp_path: Path) -> None:
    path = tmp_path / "t.yaml"
    path.write_text("tiers:\n  edge:\n    upstreams: [{url: 'http://x'}]\n    colour: blue\n")
    with pytest.raises(InvalidRequest, match=r":4: tiers\.edge\.colour"):
        load_topology(path, env={})


def test_flags_make_a_working_default_topology() -> None:
    topology = load_topology(edge="http://127.0.0.1:1", cloud="http://127.0.0.1:2", env={})
    assert set(topology.tiers) == {"edge", "cloud"}
    assert topology.policies[0] == "privacy"


def test_inbound_validation_is_light_but_clear() -> None:
    with pytest.raises(InvalidRequest, match="messages"):
        parse_inbound("chat", b'{"model": "auto", "messages": []}')
    with pytest.raises(InvalidRequest, match="JSON"):
        parse_inbound("chat", b"{")
    inbound = parse_inbound(
        "chat", b'{"model": "auto", "messages": [{"role": "user", "content": "hi"}], "n": 3}'
    )
    assert inbound.text() == "hi"


def test_payload_is_untouched_when_nothing_changes_and_rewritten_otherwise() -> None:
    raw = b'{"model":"m","messages":[{"role":"user","content":"hi"}]}'
    inbound = parse_inbound("chat", raw)
    assert tier_payload(inbound, "m", want_usage=True, want_logprobs=False) == raw
    streamed = Inbound(
        "chat", {"model": "auto", "stream": True, "metadata": {"tier": "edge"}, "messages": []}, b""
    )
    body = tier_payload(streamed, "smol", want_usage=True, want_logprobs=True)
    assert b'"model":"smol"' in body and b"metadata" not in body
    assert b'"include_usage":true' in body and b'"logprobs":true' in body
    assert task_alias("edgecloud-mining") == "mining" and task_alias("smol") is None


def test_a_task_the_node_frames_reaches_the_tier_and_placement_metadata_does_not() -> None:
    """Without its translate framing the tier answers another question (it echoed the English back)."""
    meta = {"task": "translate", "source": "English", "target": "French", "tier": "cloud"}
    body = {"model": "auto", "metadata": meta, "messages": [{"role": "user", "content": "Hi"}]}
    sent = json.loads(tier_payload(Inbound("chat", body, b""), "qwen", want_usage=False, want_logprobs=False))
    assert sent["metadata"] == {"task": "translate", "source": "English", "target": "French"}
    mining = {**body, "metadata": {"task": "mining", "privacy": "local"}}
    sent = json.loads(
        tier_payload(Inbound("chat", mining, b""), "qwen", want_usage=False, want_logprobs=False)
    )
    assert "metadata" not in sent


def test_the_example_topology_is_valid() -> None:
    from edgecloud.gateway.policies import build_chain

    topology = load_topology(Path(__file__).parents[2] / "examples" / "topology.yaml", env={})
    chain = build_chain(topology.policies, topology.policy_settings)
    assert chain.names == ("privacy", "hint", "task", "offline", "cost", "router", "latency", "cascade")
