"""GGUF decoders through llama-cpp-python: chat with the model's own template, completion, streaming,
seeded sampling, and per-token log-probabilities that cost almost nothing.

Why logprobs are computed here: llama-cpp-python only fills its score matrix with `logits_all=True`,
which makes every decode step compute logits for the whole batch (about 5x slower on CPU). Sampling
only needs the last position, and so do we: after each sampled token we read that one row of logits
from the context and take the log-softmax in numpy (~0.1 ms for a 50k vocabulary)."""

from __future__ import annotations

import ctypes
import random
from collections.abc import Iterator, Sequence
from typing import Any

import numpy as np

from edgecloud.catalogue import ModelSpec
from edgecloud.errors import InvalidRequest, ModelFileError
from edgecloud.runtimes.base import (
    Capability,
    InferenceRequest,
    InferenceResult,
    Prepared,
    SamplingParams,
    StepOutput,
)
from edgecloud.runtimes.llama_tokens import token_piece
from edgecloud.runtimes.logits import log_softmax_pick, logits_row
from edgecloud.runtimes.speculative.protocol import Verification, VerifyRequest
from edgecloud.runtimes.speculative.service import VerifyService
from edgecloud.runtimes.speculative.vocab import Vocabulary
from edgecloud.runtimes.textstream import (
    ByteDetokenizer,
    DecodeState,
    StopMatcher,
    decoder_postprocess,
    token_budget,
)


def gpu_offload_supported() -> bool:
    """Whether the installed llama.cpp was built with a GPU backend (CUDA, Metal, Vulkan...)."""
    import llama_cpp

    return bool(llama_cpp.llama_supports_gpu_offload())


class LlamaCppRuntime:
    """One llama.cpp context; not thread-safe, so the node gives it a single worker thread."""

    capabilities = frozenset({Capability.CHAT, Capability.COMPLETION, Capability.LOGPROBS})

    def __init__(
        self,
        *,
        n_ctx: int | None = None,
        n_threads: int = 2,
        n_batch: int = 512,
        verify_sessions: int = 16,
        verify_ttl: float = 120.0,
        n_gpu_layers: int = 0,
    ) -> None:
        self._n_ctx = n_ctx
        self._n_gpu_layers = n_gpu_layers
        self._verify_limits = (verify_sessions, verify_ttl)
        self._n_threads = n_threads
        self._n_batch = n_batch
        self._llm: Any = None
        self._formatter: Any = None
        self._default_system: str | None = None
        self._pieces: dict[int, bytes] = {}
        self._verify: VerifyService | None = None  # created by the first verify round
        self._name = ""
        self.context_length = 0

    def load(self, spec: ModelSpec) -> None:
        from llama_cpp import Llama
        from llama_cpp.llama_chat_format import Jinja2ChatFormatter

        path = getattr(spec.source, "path", None)
        if path is None:
            raise ModelFileError(f"model {spec.name!r} has no local file; materialise it first")
        n_ctx = self._n_ctx or min(spec.context_length, 4096)
        self._llm = Llama(
            model_path=str(path),
            n_ctx=n_ctx,
            n_threads=self._n_threads,
            n_threads_batch=self._n_threads,
            n_batch=self._n_batch,
            logits_all=False,
            verbose=False,
            n_gpu_layers=self.offloaded_layers,
        )
        # llama.cpp pads its context to a multiple of 256 (n_ctx() says 256 for --n-ctx 64) while
        # llama-cpp-python sizes its token buffer as asked: the smaller is what a request may fill.
        self.context_length = min(int(self._llm.n_ctx()), n_ctx)
        self._name = spec.name
        self._default_system = spec.default_system_prompt
        template = self._llm.metadata.get("tokenizer.chat_template")
        if template and spec.kind == "chat":
            self._formatter = Jinja2ChatFormatter(
                template=template,
                eos_token=self._token_text(self._llm.token_eos()),
                bos_token=self._token_text(self._llm.token_bos()),
            )

    @property
    def offloaded_layers(self) -> int:
        """Layers llama.cpp puts on the GPU: what was asked, where this build has a GPU backend (the
        portable CPU wheel has none: `make install-gpu` builds one with CUDA)."""
        return self._n_gpu_layers if self._n_gpu_layers and gpu_offload_supported() else 0

    @property
    def device_label(self) -> str:
        layers = self.offloaded_layers
        return "cpu" if not layers else f"cuda ({'all' if layers < 0 else layers} layers)"

    @property
    def llm(self) -> Any:
        """The llama_cpp.Llama object (speculative decoding drives its context directly)."""
        return self._llm

    def preprocess(self, request: InferenceRequest) -> Prepared:
        llm = self._llm
        if request.kind == "chat":
            tokens = self._chat_tokens(request)
        elif request.kind == "completion":
            tokens = llm.tokenize(request.prompt.encode("utf-8"), add_bos=True, special=False)
        else:
            raise InvalidRequest(f"this llama.cpp model does not serve {request.kind} requests")
        max_tokens = token_budget(len(tokens), request.sampling.max_tokens, self.context_length)
        state = DecodeState(
            detokenizer=ByteDetokenizer(self._piece),
            stops=StopMatcher(request.sampling.stop),
            piece=self._piece,
        )
        return Prepared(request=request, tokens=tokens, max_tokens=max_tokens, state=state)

    def infer(self, batch: Sequence[Prepared]) -> Iterator[StepOutput]:
        """Decodes one sequence token by token; the caller closes the generator to stop early."""
        if len(batch) != 1:
            raise ValueError("llama.cpp runtime decodes one sequence at a time")
        prepared = batch[0]
        sampling = prepared.request.sampling
        llm = self._llm
        llm.set_seed(sampling.seed if sampling.seed is not None else random.getrandbits(31))
        # Evaluate the whole prompt every time: reusing a cached prefix evaluates the last prompt token
        # in a batch of one, whose logits differ slightly from a full-batch prefill, so the same seed
        # would give different answers depending on the previous request.
        if self._verify is not None:
            self._verify.yield_context()
        llm.reset()
        if sampling.echo:
            yield StepOutput(prepared, prompt_logprobs=self._prompt_logprobs(prepared.tokens, sampling))
        generator = llm.generate(
            prepared.tokens,
            top_k=0,
            top_p=sampling.top_p,
            min_p=0.0,
            typical_p=1.0,
            temp=sampling.temperature,
            repeat_penalty=1.0,
            reset=True,
        )
        vocab = llm._model.vocab
        try:
            for produced, token in enumerate(generator, start=1):
                if is_end_of_generation(vocab, token):
                    yield StepOutput(prepared, finish_reason="stop")
                    return
                logprob: float | None = None
                top: tuple[tuple[int, float], ...] = ()
                if sampling.logprobs:
                    logprob, top = self._logprobs(token, sampling.top_logprobs)
                last = produced >= prepared.max_tokens
                yield StepOutput(
                    prepared,
                    token_id=token,
                    logprob=logprob,
                    top_logprobs=top,
                    finish_reason="length" if last else None,
                )
                if last:
                    return
        finally:
            generator.close()

    def postprocess(self, raw: StepOutput) -> InferenceResult:
        return decoder_postprocess(raw)

    def verify(self, request: VerifyRequest, draft_vocabulary: Vocabulary | None = None) -> Verification:
        """One round of a remote drafter's speculative decoding (see runtimes/speculative)."""
        if self._verify is None:
            sessions, ttl = self._verify_limits
            self._verify = VerifyService(self._llm, self._name, max_sessions=sessions, ttl=ttl)
        return self._verify.verify(request, draft_vocabulary)

    def close(self) -> None:
        if self._verify is not None:
            self._verify.close()
            self._verify = None
        if self._llm is not None:
            self._llm.close()
            self._llm = None

    def _chat_tokens(self, request: InferenceRequest) -> list[int]:
        if self._formatter is None:
            raise InvalidRequest("this model has no chat template; use /v1/completions", param="model")
        messages = [{"role": m.role, "content": m.content} for m in request.messages]
        if self._default_system and not any(m["role"] == "system" for m in messages):
            messages.insert(0, {"role": "system", "content": self._default_system})
        rendered = self._formatter(messages=messages)
        add_bos = not getattr(rendered, "added_special", False)
        tokens: list[int] = self._llm.tokenize(rendered.prompt.encode("utf-8"), add_bos=add_bos, special=True)
        return tokens

    def _logprobs(self, token: int, top_n: int) -> tuple[float, tuple[tuple[int, float], ...]]:
        llm = self._llm
        logits = logits_row(llm._ctx, -1, llm.n_vocab())
        return log_softmax_pick(logits, token, top_n)

    def _prompt_logprobs(
        self, tokens: list[int], sampling: SamplingParams
    ) -> tuple[tuple[int, float | None, tuple[tuple[int, float], ...]], ...]:
        """Each prompt token's logprob given the ones before it: one prefill with logits at every
        position (the generation that follows evaluates the prompt again from a cleared cache)."""
        if not sampling.logprobs:
            return tuple((token, None, ()) for token in tokens)
        from llama_cpp._internals import LlamaBatch

        llm = self._llm
        n_vocab = llm.n_vocab()
        batch = LlamaBatch(n_tokens=self._n_batch, embd=0, n_seq_max=1, verbose=False)
        rows: list[np.ndarray] = []
        try:
            llm._ctx.kv_cache_clear()
            for start in range(0, len(tokens), self._n_batch):
                chunk = tokens[start : start + self._n_batch]
                batch.set_batch(chunk, n_past=start, logits_all=True)
                llm._ctx.decode(batch)
                pointer = llm._ctx.get_logits()
                block = np.ctypeslib.as_array(
                    ctypes.cast(pointer, ctypes.POINTER(ctypes.c_float)), shape=(len(chunk), n_vocab)
                )
                rows.append(block.copy())
        finally:
            batch.close()
            llm._ctx.kv_cache_clear()
            llm.reset()
        logits = np.concatenate(rows)
        entries: list[tuple[int, float | None, tuple[tuple[int, float], ...]]] = [(tokens[0], None, ())]
        for position in range(1, len(tokens)):
            logprob, top = log_softmax_pick(logits[position - 1], tokens[position], sampling.top_logprobs)
            entries.append((tokens[position], logprob, top))
        return tuple(entries)

    def _piece(self, token: int) -> bytes:
        cached = self._pieces.get(token)
        if cached is None:
            cached = self._pieces[token] = token_piece(self._llm._model.vocab, token, special=False)
        return cached

    def _token_text(self, token: int) -> str:
        if token < 0:
            return ""
        return str(self._llm._model.token_get_text(token))


def is_end_of_generation(vocab: Any, token: int) -> bool:
    import llama_cpp

    return bool(llama_cpp.llama_vocab_is_eog(vocab, token))
