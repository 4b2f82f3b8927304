"""POST /v1/speculative/verify: a node checks drafts that another node (the edge) proposed for one of its
llama.cpp models. The round runs on the model's own thread, behind its queue, between generations."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from edgecloud.errors import InvalidRequest
from edgecloud.runtimes.speculative.protocol import Draft, VerifyRequest
from edgecloud.runtimes.speculative.vocab import Vocabulary
from edgecloud.security.auth import check_model, check_tier
from edgecloud.serving.context import NodeContext
from edgecloud.serving.errors import parse_body
from edgecloud.serving.protocol import VerifyBody
from edgecloud.serving.scheduler import DecoderWorker


async def verify(request: Request) -> Response:
    ctx: NodeContext = request.app.state.ctx
    body = await parse_body(request, VerifyBody, ctx.settings.max_body_bytes)
    check_model(request, body.model)
    check_tier(request, ctx.settings.tier)
    handle = ctx.pool.get(body.model)
    runtime_verify = getattr(handle.runtime, "verify", None)
    worker = handle.worker
    if runtime_verify is None or not isinstance(worker, DecoderWorker):
        raise InvalidRequest(
            f"model {handle.name!r} cannot verify drafts: only llama.cpp decoders can", param="model"
        )
    round_ = _round(body)
    vocabulary = Vocabulary(**body.vocabulary.model_dump()) if body.vocabulary is not None else None
    verified = await worker.call(lambda: runtime_verify(round_, vocabulary))
    ctx.metrics.generated.labels(handle.name).inc(len(verified.tokens))
    return JSONResponse(
        {
            "accepted": verified.accepted,
            "tokens": list(verified.tokens),
            "logprobs": [[lp, [list(pair) for pair in top]] for lp, top in verified.logprobs] or None,
            "prefilled": verified.prefilled,
        }
    )


def _round(body: VerifyBody) -> VerifyRequest:
    q = None
    if body.q is not None:
        if len(body.q) != len(body.draft):
            raise InvalidRequest("q needs one row per drafted token", param="q")
        if any(len(ids) != len(probs) or not ids for ids, probs in body.q):
            raise InvalidRequest("each q row needs as many probabilities as token ids", param="q")
        q = tuple((tuple(ids), tuple(probs)) for ids, probs in body.q)
    if body.temperature > 0.0 and q is None and body.draft:
        raise InvalidRequest("sampled drafts (temperature > 0) need q", param="q")
    return VerifyRequest(
        session=body.session,
        context=tuple(body.tokens),
        draft=Draft(tuple(body.draft), q),
        temperature=body.temperature,
        top_p=body.top_p,
        seed=body.seed,
        logprobs=body.logprobs,
        top_logprobs=body.top_logprobs,
    )
