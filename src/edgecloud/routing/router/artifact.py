"""A router on disk: `router.json` (what it was trained for, how, its threshold and held-out figures) and
`router.npz` (its arrays). A router only means something for the embedding model it reads and the pair
of tiers whose answers labelled it, so loading checks both and refuses a mismatch by name."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from edgecloud.errors import InvalidRequest
from edgecloud.routing.router.quality import KINDS, RouterModel
from edgecloud.runtimes.embedder import EMBEDDING_MODEL

FORMAT = 1
SHIPPED = Path(__file__).with_name("shipped")


@dataclass(frozen=True)
class RouterFile:
    model: RouterModel
    meta: dict[str, Any]

    @property
    def threshold(self) -> float:
        return float(self.meta["threshold"])

    @property
    def pair(self) -> tuple[str, str]:
        return str(self.meta["edge_model"]), str(self.meta["cloud_model"])

    def check_pair(self, edge_model: str | None, cloud_model: str | None, where: Path) -> None:
        """Refuses a router labelled by other tiers than the ones it would route between."""
        if (edge_model, cloud_model) != self.pair:
            raise InvalidRequest(
                f"router {where} was trained for edge {self.pair[0]} and cloud {self.pair[1]}, but the tiers "
                f"serve edge {edge_model or 'unknown'} and cloud {cloud_model or 'unknown'}; train one for "
                "this pair with `edgecloud router train`",
                param="router",
            )


def save(folder: Path, model: RouterModel, meta: dict[str, Any]) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    np.savez(folder / "router.npz", **model.arrays)  # type: ignore[arg-type]
    header = {"format": FORMAT, "kind": model.kind, "embedding_model": EMBEDDING_MODEL, **meta}
    (folder / "router.json").write_text(json.dumps(header, indent=2) + "\n")


def load(folder: Path) -> RouterFile:
    meta_file, arrays_file = folder / "router.json", folder / "router.npz"
    if not meta_file.is_file() or not arrays_file.is_file():
        raise InvalidRequest(
            f"{folder} is not a router (router.json and router.npz expected)", param="router"
        )
    try:
        meta = json.loads(meta_file.read_text())
        with np.load(arrays_file, allow_pickle=False) as data:
            arrays = {name: data[name] for name in data.files}
    except (ValueError, OSError) as exc:
        raise InvalidRequest(f"{folder}: unreadable router ({exc})", param="router") from None
    if meta.get("format") != FORMAT or meta.get("kind") not in KINDS:
        raise InvalidRequest(
            f"{folder}: router format {meta.get('format')!r} kind {meta.get('kind')!r}; this edgecloud reads "
            f"format {FORMAT} with kinds {', '.join(KINDS)}",
            param="router",
        )
    if meta.get("embedding_model") != EMBEDDING_MODEL:
        raise InvalidRequest(
            f"router {folder} reads {meta.get('embedding_model')!r} embeddings, but the gateway embeds with "
            f"{EMBEDDING_MODEL!r}; retrain it with `edgecloud router train`",
            param="router",
        )
    for key in ("edge_model", "cloud_model", "threshold"):
        if key not in meta:
            raise InvalidRequest(f"{folder}/router.json lacks {key!r}", param="router")
    return RouterFile(RouterModel(str(meta["kind"]), arrays), meta)


def shipped_for(edge_model: str | None, cloud_model: str | None) -> Path | None:
    """The router that ships with edgecloud for this pair of tiers, if there is one."""
    if not edge_model or not cloud_model:
        return None
    folder = SHIPPED / f"{edge_model}__{cloud_model}"
    return folder if (folder / "router.json").is_file() else None


def for_pairs(folder: Path | None, meta: dict[str, str]) -> RouterFile:
    """The router to judge a pairs file with: the given one, else the one shipped for the file's pair;
    either way it must have been trained for that pair."""
    edge, cloud = meta.get("edge_model"), meta.get("cloud_model")
    folder = folder or shipped_for(edge, cloud)
    if folder is None:
        raise InvalidRequest(f"no router ships for edge {edge} and cloud {cloud}; give --router DIR")
    found = load(folder)
    found.check_pair(edge, cloud, folder)
    return found
