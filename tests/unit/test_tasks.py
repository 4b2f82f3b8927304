"""Task profiles frame the user's text with the task's template; missing parameters are 400s."""

from __future__ import annotations

import pytest

from edgecloud.catalogue import LocalPath, ModelSpec
from edgecloud.errors import InvalidRequest
from edgecloud.runtimes.base import ChatMessage, InferenceRequest
from edgecloud.serving.tasks import apply_task

SPEC = ModelSpec("m", "chat", "llamacpp", "gguf", LocalPath(__file__))  # type: ignore[arg-type]


def _request(text: str = "Good morning.") -> InferenceRequest:
    return InferenceRequest("r", "chat", messages=(ChatMessage("system", "s"), ChatMessage("user", text)))


def test_translate_frames_the_last_user_message_with_source_and_target():
    framed = apply_task(_request(), {"task": "translate", "target": "French"}, SPEC)
    assert framed.messages[0] == ChatMessage("system", "s")
    assert framed.messages[1].content.startswith("Translate this English text into French.")
    assert framed.messages[1].content.endswith("\n\nGood morning.")


def test_a_task_without_a_template_or_no_task_leaves_the_request_alone():
    request = _request()
    assert apply_task(request, {"task": "mining"}, SPEC) is request
    assert apply_task(request, None, SPEC) is request


def test_a_missing_task_parameter_is_a_clear_400():
    with pytest.raises(InvalidRequest, match=r"metadata\.target"):
        apply_task(_request(), {"task": "translate"}, SPEC)


def test_a_model_may_carry_its_own_wording_for_a_task():
    spec = ModelSpec(
        "m", "chat", "llamacpp", "gguf", LocalPath(__file__), options={"task.summarize": "TL;DR: {text}"}
    )  # type: ignore[arg-type]
    assert (
        apply_task(_request("long text"), {"task": "summarize"}, spec).messages[1].content
        == "TL;DR: long text"
    )


def test_the_gateway_sends_translation_to_the_cloud_for_quality():
    from edgecloud.gateway.placement import RequestView, TierState, TierStates
    from edgecloud.gateway.policies.task import TaskPolicy

    tiers = TierStates({"edge": TierState("edge"), "cloud": TierState("cloud")}, now=0.0)
    view = RequestView(kind="chat", model="auto", text="Good morning.", prompt_tokens=4, task="translate")
    decision = TaskPolicy().decide(view, tiers)
    assert decision is not None and decision.tier == "cloud" and "quality" in decision.reason
