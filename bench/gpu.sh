#!/usr/bin/env bash
# The GPU bench on a bare GPU machine (PyTorch with CUDA and transformers preinstalled, no network):
#   bash bench/gpu.sh [PAYLOAD]     PAYLOAD: a folder holding payload.tar.NN chunks (bench/gpu-pack.sh)
# Joins and unpacks the payload once, installs its wheels into a private folder, runs
# `python3 -m edgecloud.bench.gpu` on the GPU, then a node on loopback serving both models there
# (`python3 -m edgecloud.bench.gpu.node`). About 3-6 minutes on an H200; hard limit 8.
# Extra bench arguments go in GPU_BENCH_ARGS; reports go to ${OUT:-bench-results}/gpu*.json.
set -euo pipefail
cd "$(dirname "$0")/.."
PAYLOAD=${1:-.gpu}
WORK=${GPU_WORK:-/tmp/edgecloud-gpu}
REPORT_DIR=${OUT:-bench-results}
DEVICE=${GPU_DEVICE:-cuda}
mkdir -p "$WORK" "$REPORT_DIR"
if [ ! -d "$WORK/payload" ]; then
  cat "$PAYLOAD"/payload.tar.* | tar -C "$WORK" -xf -
fi
python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade \
  --target "$WORK/site" "$WORK"/payload/wheels/*.whl
export PYTHONPATH="$PWD/src:$WORK/site" HF_HUB_OFFLINE=1 TRANSFORMERS_VERBOSITY=error PYTHONUNBUFFERED=1
export HOME="$WORK/home"  # the dequantised GGUF is cached here, not in the image's home
MODELS="$WORK/payload/models"
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader || true
status=0
# shellcheck disable=SC2086
timeout 400 python3 -m edgecloud.bench.gpu --model "$MODELS/smollm2-135m-instruct.gguf" \
  --embed-model "$MODELS/all-minilm-l6-v2-fp16" --device "$DEVICE" --budget 300 \
  --out "$REPORT_DIR/gpu.json" ${GPU_BENCH_ARGS:-} || status=$?
if [ "${GPU_NODE_CHECK:-1}" = 1 ]; then
  timeout 80 python3 -m edgecloud.bench.gpu.node "$MODELS/smollm2-135m-instruct.gguf" \
    "$MODELS/all-minilm-l6-v2-fp16" --device "$DEVICE" | tee "$REPORT_DIR/gpu-node.json" || status=$?
fi
exit "$status"
