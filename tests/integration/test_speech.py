"""Speech at the edge, through a real node: espeak-ng speaks known sentences, the official openai client
uploads them to /v1/audio/transcriptions, and the word error rate against the spoken text stays low.
Every audio format the route promises decodes; bad uploads get OpenAI-style errors, never a 500; the
dialogue route streams the transcript first and then the chat model's answer."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import openai
import pytest

from edgecloud.catalogue import Catalogue
from edgecloud.config import default_cache_dir
from edgecloud.serving.launcher import GatewayProcess, NodeProcess
from edgecloud.speech.synth import SENTENCES, espeak_binary, speak, transcode
from edgecloud.speech.voice import DialogueOptions, LocalVoice, ask_node, sse_events
from edgecloud.speech.wer import WordErrors, word_errors
from tests.conftest import CHAT, require_tool

pytestmark = [
    pytest.mark.slow,
    require_tool(espeak_binary(), "espeak-ng", "make system-deps"),
]
SPEECH = "whisper-tiny-en"
AUDIO_LIMIT = 1_000_000  # the node's EDGECLOUD_MAX_AUDIO_BYTES in these tests
SPOKEN = SENTENCES[0]  # "Please turn on the lights in the kitchen."


@pytest.fixture(scope="module")
def speech_node() -> Iterator[NodeProcess]:
    env = {"EDGECLOUD_MAX_AUDIO_BYTES": str(AUDIO_LIMIT)}
    # One engine thread: on a shared CPU two llama.cpp threads stall each other at every barrier.
    with NodeProcess([SPEECH, CHAT], args=["--max-queue", "4", "--threads", "1"], env=env) as process:
        process.wait_ready(timeout=300)
        yield process


@pytest.fixture(scope="module")
def spoken(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Each test sentence as a wav file espeak-ng spoke."""
    folder = tmp_path_factory.mktemp("speech")
    return {text: speak(text, folder / f"s{i}.wav") for i, text in enumerate(SENTENCES)}


@pytest.fixture
def client(speech_node: NodeProcess) -> Iterator[openai.OpenAI]:
    with openai.OpenAI(base_url=f"{speech_node.url}/v1", api_key="test", max_retries=0, timeout=120) as c:
        yield c


def _post(node: NodeProcess, files: dict[str, object] | None, data: dict[str, str]) -> httpx.Response:
    return httpx.post(f"{node.url}/v1/audio/transcriptions", files=files, data=data, timeout=120)


def test_openai_client_transcribes_espeak_sentences_with_low_word_error_rate(
    client: openai.OpenAI, spoken: dict[str, Path]
) -> None:
    total = WordErrors(0, 0, 0, 0)
    for text, wav in spoken.items():
        with wav.open("rb") as handle:
            result = client.audio.transcriptions.create(model=SPEECH, file=handle)
        total = total + word_errors(text, result.text)
    # tiny.en on espeak's robotic voice: 3 of 46 words wrong, all in "The quick brown fox jumps ..."
    # (heard as "The quick round-fark jump ..."); decoding is deterministic at temperature 0.
    assert total.wer <= 0.10, total


def test_verbose_json_has_segments_duration_and_language(
    client: openai.OpenAI, spoken: dict[str, Path]
) -> None:
    result = client.audio.transcriptions.create(
        model=SPEECH, file=spoken[SPOKEN].open("rb"), response_format="verbose_json", language="en"
    )
    assert result.language == "english"
    assert 1.5 < result.duration < 4.0
    assert result.segments
    assert result.segments[0].start == 0.0
    assert result.segments[-1].end <= result.duration + 0.5
    assert word_errors(SPOKEN, " ".join(s.text for s in result.segments)).wer <= 0.15


def test_word_timestamps_and_text_format(client: openai.OpenAI, spoken: dict[str, Path]) -> None:
    result = client.audio.transcriptions.create(
        model=SPEECH,
        file=spoken[SPOKEN].open("rb"),
        response_format="verbose_json",
        timestamp_granularities=["word"],
    )
    assert result.words is not None
    assert [w.word.strip(".").lower() for w in result.words][:3] == ["please", "turn", "on"]
    text = client.audio.transcriptions.create(
        model=SPEECH, file=spoken[SPOKEN].open("rb"), response_format="text"
    )
    assert isinstance(text, str)
    assert word_errors(SPOKEN, text).wer <= 0.15


@pytest.mark.parametrize("container", ["mp3", "ogg", "flac"])
def test_compressed_audio_formats_decode(
    speech_node: NodeProcess, spoken: dict[str, Path], container: str
) -> None:
    encoded = transcode(spoken[SPOKEN], container)
    response = _post(speech_node, {"file": (f"speech.{container}", encoded)}, {"model": SPEECH})
    assert response.status_code == 200, response.text
    assert word_errors(SPOKEN, response.json()["text"]).wer <= 0.15
    assert "transcribe;dur=" in response.headers["server-timing"]


def test_subtitle_formats(speech_node: NodeProcess, spoken: dict[str, Path]) -> None:
    files = {"file": ("s.wav", spoken[SPOKEN].read_bytes())}
    srt = _post(speech_node, files, {"model": SPEECH, "response_format": "srt"}).text
    assert srt.startswith("1\n00:00:00,000 --> ")
    vtt = _post(speech_node, files, {"model": SPEECH, "response_format": "vtt"}).text
    assert vtt.startswith("WEBVTT\n\n00:00:00.000 --> ")


def _error(response: httpx.Response, status: int) -> dict[str, object]:
    assert response.status_code == status, response.text
    body = response.json()
    assert set(body["error"]) == {"message", "type", "param", "code"}
    return dict(body["error"])


def test_bad_uploads_get_openai_errors(speech_node: NodeProcess, spoken: dict[str, Path]) -> None:
    wav = {"file": ("s.wav", spoken[SPOKEN].read_bytes())}
    assert _error(_post(speech_node, None, {"model": SPEECH}), 400)
    assert (
        _error(_post(speech_node, {"file": ("x.wav", b"RIFF not really audio")}, {"model": SPEECH}), 400)[
            "param"
        ]
        == "file"
    )
    assert _error(_post(speech_node, {"file": ("x.mp3", b"")}, {"model": SPEECH}), 400)["param"] == "file"
    assert _error(_post(speech_node, wav, {}), 400)["param"] == "model"
    assert _error(_post(speech_node, wav, {"model": SPEECH, "response_format": "xml"}), 400)
    assert _error(_post(speech_node, wav, {"model": SPEECH, "language": "fr"}), 400)["param"] == "language"
    assert _error(_post(speech_node, wav, {"model": CHAT}), 400)["param"] == "model"  # not a speech model
    too_big = {"file": ("big.wav", b"\0" * (AUDIO_LIMIT + 1))}
    assert _error(_post(speech_node, too_big, {"model": SPEECH}), 413)["code"] == "request_too_large"


def test_a_full_speech_queue_answers_429_and_the_rest_are_transcribed(
    speech_node: NodeProcess, tmp_path: Path
) -> None:
    """One worker thread and a queue of four (--max-queue 4): eight uploads at once cannot all wait."""
    long = speak(" ".join(SENTENCES[:3]), tmp_path / "long.wav").read_bytes()

    def upload(_: int) -> httpx.Response:
        return _post(speech_node, {"file": ("long.wav", long)}, {"model": SPEECH})

    with ThreadPoolExecutor(8) as pool:
        responses = list(pool.map(upload, range(8)))
    statuses = sorted(response.status_code for response in responses)
    assert 429 in statuses and 200 in statuses and set(statuses) <= {200, 429}, statuses
    refused = next(response for response in responses if response.status_code == 429)
    assert refused.headers["retry-after"] and _error(refused, 429)["code"] == "queue_full"


def test_unknown_model_is_404_through_the_openai_client(
    client: openai.OpenAI, spoken: dict[str, Path]
) -> None:
    with pytest.raises(openai.NotFoundError) as info:
        client.audio.transcriptions.create(model="whisper-huge", file=spoken[SPOKEN].open("rb"))
    assert info.value.code == "model_not_found"


def test_chat_route_refuses_the_speech_model(client: openai.OpenAI) -> None:
    with pytest.raises(openai.BadRequestError):
        client.chat.completions.create(model=SPEECH, messages=[{"role": "user", "content": "hi"}])


def test_dialogue_streams_the_transcript_then_chat_chunks(
    speech_node: NodeProcess, spoken: dict[str, Path]
) -> None:
    files = {"file": ("s.wav", spoken[SPOKEN].read_bytes())}
    data = {"max_tokens": "12", "seed": "1"}
    with httpx.stream(
        "POST", f"{speech_node.url}/v1/audio/dialogue", files=files, data=data, timeout=120
    ) as r:
        assert r.status_code == 200
        assert r.headers["content-type"].startswith("text/event-stream")
        events = list(sse_events(r.iter_lines()))
    name, first = events[0]
    assert name == "transcript"
    transcript = json.loads(first)
    assert word_errors(SPOKEN, transcript["text"]).wer <= 0.15
    assert transcript["timings"]["transcribe_ms"] > 0
    chunks = [json.loads(data) for name, data in events[1:-1]]
    assert all(chunk["object"] == "chat.completion.chunk" for chunk in chunks)
    assert "".join(c["choices"][0]["delta"].get("content") or "" for c in chunks if c["choices"]).strip()
    assert chunks[-1]["usage"]["completion_tokens"] <= 12
    assert events[-1] == ("message", "[DONE]")


def test_dialogue_rejects_undecodable_audio_before_streaming(speech_node: NodeProcess) -> None:
    files = {"file": ("x.ogg", b"OggS but nothing else")}
    response = httpx.post(f"{speech_node.url}/v1/audio/dialogue", files=files, timeout=60)
    assert _error(response, 400)["param"] == "file"


def test_voice_command_against_the_node_prints_every_stage(
    speech_node: NodeProcess, spoken: dict[str, Path]
) -> None:
    command = [sys.executable, "-m", "edgecloud", "voice", str(spoken[SPOKEN]), "--url", speech_node.url]
    done = subprocess.run([*command, "--max-tokens", "8"], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert "heard:" in done.stderr and "kitchen" in done.stderr.lower()
    for stage in ("decode", "transcribe", "first token", "answer", "total"):
        assert stage in done.stderr
    assert done.stdout.strip()  # the answer itself


def test_voice_command_reports_a_missing_file_without_a_traceback(tmp_path: Path) -> None:
    command = [sys.executable, "-m", "edgecloud", "voice", str(tmp_path / "nothing.wav")]
    done = subprocess.run(command, capture_output=True, text=True, timeout=60)
    assert done.returncode == 2
    assert "is not a file" in done.stderr and "Traceback" not in done.stderr


def test_voice_command_reports_the_nodes_refusal_in_one_line(
    speech_node: NodeProcess, tmp_path: Path
) -> None:
    garbage = tmp_path / "noise.wav"
    garbage.write_bytes(b"definitely not audio" * 10)
    command = [sys.executable, "-m", "edgecloud", "voice", str(garbage), "--url", speech_node.url]
    done = subprocess.run(command, capture_output=True, text=True, timeout=60)
    assert done.returncode == 2
    assert "400" in done.stderr and "could not decode" in done.stderr and "Traceback" not in done.stderr


def test_ask_node_and_in_process_pipeline_hear_the_same_words(
    speech_node: NodeProcess, spoken: dict[str, Path]
) -> None:
    options = DialogueOptions(max_tokens=8, seed=3, temperature=0.0)
    remote = ask_node(speech_node.url, spoken[SPOKEN], options)
    local = LocalVoice(Catalogue(default_cache_dir()), threads=1)  # as the node
    try:
        here = local.ask(spoken[SPOKEN], options)
    finally:
        local.close()
    assert here.transcript == remote.transcript
    assert here.answer == remote.answer  # greedy decoding: the same engine answers the same way
    assert here.timings.first_token is not None and here.timings.answer >= here.timings.first_token


def test_the_gateway_keeps_speech_on_the_edge(speech_node: NodeProcess, spoken: dict[str, Path]) -> None:
    """Both audio routes through a gateway: the upload passes through unchanged, the edge answers, pinned,
    with the placement headers; bad uploads get the node's errors through it."""
    with GatewayProcess(edge=speech_node.url) as gateway:
        gateway.wait_ready(60)
        with openai.OpenAI(base_url=f"{gateway.url}/v1", api_key="t", max_retries=0, timeout=120) as c:
            raw = c.audio.transcriptions.with_raw_response.create(
                model=SPEECH, file=spoken[SPOKEN].open("rb"), response_format="verbose_json"
            )
        assert raw.headers["x-edgecloud-tier"] == "edge" and raw.headers["x-edgecloud-policy"] == "privacy"
        assert word_errors(SPOKEN, raw.parse().text).wer <= 0.15
        files = {"file": ("s.wav", spoken[SPOKEN].read_bytes())}
        data = {"max_tokens": "6", "seed": "1"}
        with httpx.stream(
            "POST", f"{gateway.url}/v1/audio/dialogue", files=files, data=data, timeout=120
        ) as r:
            assert r.status_code == 200 and r.headers["x-edgecloud-tier"] == "edge"
            events = list(sse_events(r.iter_lines()))
        assert events[0][0] == "transcript" and events[-1] == ("message", "[DONE]")
        bad = httpx.post(f"{gateway.url}/v1/audio/transcriptions", files={"file": ("x.ogg", b"OggS")},
                         data={"model": SPEECH}, timeout=60)  # fmt: skip
        assert _error(bad, 400)["param"] == "file" and bad.headers["x-edgecloud-tier"] == "edge"
        wrong = httpx.post(f"{gateway.url}/v1/audio/transcriptions", json={"model": SPEECH}, timeout=30)
        assert _error(wrong, 400)["type"] == "invalid_request_error"
        unknown = httpx.post(f"{gateway.url}/v1/audio/transcriptions", files=files, data={"model": SPEECH},
                             headers={"x-edgecloud-tier": "moon"}, timeout=30)  # fmt: skip
        assert _error(unknown, 400)["param"] == "x-edgecloud-tier"
