"""The optimizer's bookkeeping: manifests, how the node picks an engine for an optimized folder, the
report files, the comparison table and the quality arithmetic."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from rich.console import Console

from edgecloud.catalogue import spec_for_path
from edgecloud.errors import InvalidRequest, ModelFileError
from edgecloud.optimize.artifact import Manifest, fresh_output, read_manifest, size_on_disk, write_manifest
from edgecloud.optimize.compare import load_reports, report_table
from edgecloud.optimize.gguf import ftype_of
from edgecloud.optimize.measure import nearest_neighbour_agreement
from edgecloud.optimize.report import write_report

REPORT = {
    "method": "onnx-int8",
    "source": "all-minilm-l6-v2",
    "output": "/tmp/minilm-onnx",
    "created": "2026-12-01T14:00:00+00:00",
    "settings": {"threads": 2},
    "kind": "embedding",
    "variants": [
        {
            "label": "original",
            "size_bytes": 91_000_000,
            "parameters": 22_700_000,
            "throughput_b32": 10.0,
            "latency_ms_b1": 20.0,
        },
        {
            "label": "optimized",
            "size_bytes": 23_000_000,
            "parameters": 22_600_000,
            "throughput_b32": 40.0,
            "latency_ms_b1": 5.0,
        },
    ],
    "quality": {"mean_cosine": 0.992, "nn_agreement": 0.9},
    "ratios": {"throughput_b32": 4.0, "size_bytes": 3.96},
    "notes": ["a note <with> markup"],
}


def test_nearest_neighbour_agreement_counts_sentences_whose_neighbour_changed() -> None:
    a = np.array([[1.0, 0.0], [0.9, 0.1], [0.0, 1.0], [0.1, 0.9]])
    assert nearest_neighbour_agreement(a, a) == 1.0
    swapped = a.copy()
    swapped[1] = [0.1, 0.95]  # sentence 1 now sits next to 2/3, and sentence 0's neighbour changes too
    assert nearest_neighbour_agreement(a, swapped) < 1.0


def test_an_onnx_folder_is_served_by_the_onnx_runtime_with_its_max_seq_length(tmp_path: Path) -> None:
    write_manifest(tmp_path, Manifest("onnx-int8", "onnx", "embedding", "all-minilm-l6-v2"))
    (tmp_path / "sentence_bert_config.json").write_text(json.dumps({"max_seq_length": 256}))
    (tmp_path / "model.onnx").write_bytes(b"x" * 10)
    spec = spec_for_path(tmp_path)
    assert (spec.runtime, spec.kind, spec.context_length, spec.quantization) == (
        "onnx",
        "embedding",
        256,
        "onnx-int8",
    )
    assert read_manifest(tmp_path) == Manifest("onnx-int8", "onnx", "embedding", "all-minilm-l6-v2")


def test_an_int8_folder_stays_on_transformers_marked_dynamic_int8(tmp_path: Path) -> None:
    write_manifest(tmp_path, Manifest("dynamic-int8", "int8-safetensors", "embedding", "m"))
    spec = spec_for_path(tmp_path)
    assert (spec.runtime, spec.quantization) == ("transformers", "dynamic-int8")


def test_a_gguf_folder_serves_its_model_file_as_the_source_kind(tmp_path: Path) -> None:
    write_manifest(tmp_path, Manifest("gguf:Q8_0", "gguf", "decoder", "gemma3-270m", served_as="completion"))
    spec = spec_for_path(tmp_path)
    assert (spec.runtime, spec.kind, spec.quantization) == ("llamacpp", "completion", "Q8_0")
    assert getattr(spec.source, "path", None) == tmp_path.resolve() / "model.gguf"


def test_report_files_hold_the_table_the_notes_and_an_embedded_chart(tmp_path: Path) -> None:
    json_path, html_path = write_report(tmp_path, REPORT)
    assert json.loads(json_path.read_text()) == REPORT
    page = html_path.read_text()
    assert "data:image/png;base64," in page and "b32 (sent/s)" in page
    assert "a note &lt;with&gt; markup" in page
    assert size_on_disk(tmp_path) == 0  # reports and manifests are not the model's size


def test_compare_puts_every_variant_in_one_table(tmp_path: Path) -> None:
    for name in ("a", "b"):
        write_report(tmp_path / name, REPORT | {"output": str(tmp_path / name)})
    table = report_table(load_reports([tmp_path / "a", tmp_path / "b"]))
    console = Console(width=250, record=True)
    console.print(table)
    text = console.export_text()
    assert table.row_count == 2 and "4.00×" in text and "0.992" in text


def test_compare_without_a_report_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(ModelFileError, match=r"no report\.json"):
        load_reports([tmp_path])


def test_unknown_gguf_types_and_writing_into_the_source_are_refused(tmp_path: Path) -> None:
    with pytest.raises(InvalidRequest, match="unknown GGUF type"):
        ftype_of("Q9_X")
    assert ftype_of("q8_0") == ftype_of("Q8_0")
    with pytest.raises(ModelFileError, match="inside the source"):
        fresh_output(tmp_path, tmp_path / "out")
