#!/usr/bin/env bash
# Pack what bench/gpu.sh needs on a bare GPU machine (PyTorch, transformers and CUDA preinstalled, no
# network): the SmolLM2-135M GGUF, MiniLM saved in fp16 (half the bytes; the CPU baseline widens it back
# to fp32), and the wheels the image lacks (pydantic and friends, gguf; starlette and uvicorn for the
# node check) for its Python 3.12.
# Writes .gpu/payload.tar split into chunks of at most CHUNK_MB (default 60 MiB), because a device call
# carries at most 64 MiB: send one chunk per call and let bench/gpu.sh join them.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PY:-.venv/bin/python}
CHUNK_MB=${CHUNK_MB:-60}
OUT=.gpu
STAGE=$(mktemp -d)
trap 'rm -rf "$STAGE"' EXIT
mkdir -p "$STAGE/payload/models" "$STAGE/payload/wheels" "$OUT"
rm -f "$OUT"/payload.tar*

version() { "$PY" -c "import importlib.metadata as m; print(m.version('$1'))"; }
wheels=()
for name in pydantic pydantic_core pydantic-settings python-dotenv annotated-types typing-inspection gguf \
  starlette uvicorn python-multipart sniffio; do
  wheels+=("$name==$(version "$name")")
done
"$PY" -m pip download -q --no-deps --only-binary=:all: --python-version 3.12 --implementation cp \
  --platform manylinux_2_28_x86_64 --platform manylinux_2_17_x86_64 --platform manylinux2014_x86_64 \
  -d "$STAGE/payload/wheels" "${wheels[@]}"

HF_HUB_OFFLINE=1 "$PY" - "$STAGE/payload/models" <<'PYEOF'
import shutil, sys
from pathlib import Path

import torch
from transformers import AutoModel

from edgecloud.catalogue import Catalogue
from edgecloud.config import default_cache_dir

target = Path(sys.argv[1])
catalogue = Catalogue(default_cache_dir())
gguf = catalogue.materialize(catalogue.resolve("smollm2-135m-instruct"))
shutil.copy(gguf, target / "smollm2-135m-instruct.gguf")
minilm = catalogue.materialize(catalogue.resolve("all-minilm-l6-v2"))
folder = target / "all-minilm-l6-v2-fp16"
shutil.copytree(minilm, folder, ignore=shutil.ignore_patterns("*.safetensors", "*.bin"))
AutoModel.from_pretrained(minilm, dtype=torch.float16).save_pretrained(folder)
print(f"packed {gguf.name} and MiniLM (fp16)")
PYEOF

tar -C "$STAGE" -cf "$OUT/payload.tar" payload
split -b "${CHUNK_MB}M" -d "$OUT/payload.tar" "$OUT/payload.tar."
rm "$OUT/payload.tar"
ls -l "$OUT"
