"""How answers are judged: letter extraction, SQuAD-style exact match, chrF, Wilson intervals, and
the paired comparison of two tiers on the same items. Pure functions, so the unit tests pin the rules
down."""

from __future__ import annotations

import math
import re
import string
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

_ARTICLES = re.compile(r"\b(a|an|the)\b")
_LETTER_PATTERNS = (
    re.compile(r"^\s*\(?([A-H])\)?(?:[.):\s]|$)"),  # "B", "B.", "(B)", "B) text"
    re.compile(r"\b(?:answer|option|choice)\s*(?:is|:)?\s*\(?([A-H])\b", re.IGNORECASE),
)


def extract_letter(text: str, n_options: int, options: Sequence[str] = ()) -> int | None:
    """The option a generated answer picks: a leading letter, "the answer is C", or the exact text of
    one option; None when the answer names none (scored wrong)."""
    valid = "ABCDEFGH"[:n_options]
    for pattern in _LETTER_PATTERNS:
        match = pattern.search(text)
        if match and match.group(1).upper() in valid:
            return valid.index(match.group(1).upper())
    spoken = normalize(text)
    named = [i for i, option in enumerate(options) if normalize(option) and normalize(option) in spoken]
    return named[0] if len(named) == 1 else None


def normalize(text: str) -> str:
    """Lower case, no punctuation, no articles, single spaces (SQuAD's answer normalisation)."""
    text = text.lower()
    text = "".join(ch for ch in text if ch not in string.punctuation)
    return " ".join(_ARTICLES.sub(" ", text).split())


def exact_match(prediction: str, answers: Sequence[str]) -> bool:
    """NQ-open: the normalised answer equals an accepted one. The first line counts, so a model that
    answers and then rambles is judged on its answer."""
    lines = prediction.strip().splitlines()
    guess = normalize(lines[0] if lines else "")
    return any(guess == normalize(answer) for answer in answers)


def contains_answer(prediction: str, answers: Sequence[str]) -> bool:
    """A laxer NQ-open score reported beside exact match: an accepted answer appears in the reply."""
    spoken = f" {normalize(prediction)} "
    return any(f" {normalize(answer)} " in spoken for answer in answers if normalize(answer))


def chrf(hypotheses: Sequence[str], references: Sequence[str]) -> float:
    """Corpus chrF (sacrebleu's defaults: character 6-grams, beta 2), 0-100."""
    from sacrebleu.metrics import CHRF

    return float(CHRF().corpus_score(list(hypotheses), [list(references)]).score)


def wilson_interval(successes: int, n: int, z: float = 1.959964) -> tuple[float, float]:
    """The 95% Wilson score interval for a proportion (sane at 0%, 100% and small n)."""
    if n == 0:
        return 0.0, 1.0
    p = successes / n
    denominator = 1 + z * z / n
    centre = (p + z * z / (2 * n)) / denominator
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / denominator
    return max(0.0, centre - half), min(1.0, centre + half)


def percentile(values: Sequence[float], q: float) -> float:
    """Linear-interpolated percentile (q in 0..100); NaN for no values."""
    if not values:
        return math.nan
    ordered = sorted(values)
    rank = (len(ordered) - 1) * q / 100
    low, high = math.floor(rank), math.ceil(rank)
    return ordered[low] + (ordered[high] - ordered[low]) * (rank - low)


@dataclass(frozen=True)
class PairedDifference:
    """How much better tier B scored than tier A on the same items."""

    n: int
    mean_a: float
    mean_b: float
    ci_low: float  # 95% paired-bootstrap interval of mean(b - a)
    ci_high: float
    p_value: float  # two-sided: McNemar's exact test for 0/1 scores, a sign-flip test otherwise

    @property
    def difference(self) -> float:
        return self.mean_b - self.mean_a

    @property
    def significant(self) -> bool:
        return self.p_value < 0.05


def paired_difference(
    pairs: Sequence[tuple[float, float]], *, resamples: int = 4000, seed: int = 0
) -> PairedDifference:
    """Two tiers answered the same items, so their scores are compared item by item: a paired test is
    far more sensitive than asking whether two separate intervals overlap."""
    import numpy as np

    if not pairs:
        raise ValueError("no item was scored on both sides")
    scores = np.asarray(pairs, dtype=float)
    diffs = scores[:, 1] - scores[:, 0]
    rng = np.random.default_rng(seed)
    boot = diffs[rng.integers(0, len(diffs), size=(resamples, len(diffs)))].mean(axis=1)
    low, high = np.quantile(boot, [0.025, 0.975])
    binary = bool(np.isin(scores, (0.0, 1.0)).all())
    p = (
        _mcnemar_exact(int((diffs > 0).sum()), int((diffs < 0).sum()))
        if binary
        else _sign_flip(diffs, rng, resamples)
    )
    return PairedDifference(
        len(diffs), float(scores[:, 0].mean()), float(scores[:, 1].mean()), float(low), float(high), p
    )


def _mcnemar_exact(b_only: int, a_only: int) -> float:
    """Two-sided exact binomial test on the discordant items (those only one side got right)."""
    n = b_only + a_only
    if n == 0:
        return 1.0
    tail = sum(math.comb(n, k) for k in range(min(b_only, a_only) + 1)) / 2**n
    return min(1.0, 2 * tail)


def _sign_flip(diffs: Any, rng: Any, resamples: int) -> float:
    """Randomisation test of a zero mean paired difference (scores such as per-item chrF)."""
    import numpy as np

    observed = abs(float(diffs.mean()))
    signs = rng.choice((-1.0, 1.0), size=(resamples, len(diffs)))
    flipped = np.abs((signs * diffs).mean(axis=1))
    return float((1 + (flipped >= observed - 1e-12).sum()) / (resamples + 1))
