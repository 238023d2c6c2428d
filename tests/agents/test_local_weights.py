"""The embedded model's weights: re-encoded once from the shipped GGUF into the cache, or as shipped."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from agents.providers import local, local_weights
from builders import local_model_installed

needs_local = pytest.mark.skipif(not local_model_installed(), reason="needs the [local] extra: pip install -e '.[local]'")


def test_an_unknown_encoding_is_a_one_line_error_naming_the_setting(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(local_weights.WEIGHTS_ENV, "q2_k")
    with pytest.raises(local_weights.WeightsSettingError, match=r"GRANDROUNDS_LOCAL_WEIGHTS='q2_k': expected one of q8_0, shipped"):
        local_weights.encoding()


def test_shipped_uses_the_installed_file_and_writes_nothing(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv(local_weights.WEIGHTS_ENV, "shipped")
    monkeypatch.setenv("GRANDROUNDS_CACHE_DIR", str(tmp_path / "cache"))
    source = tmp_path / "model.gguf"
    source.write_bytes(b"GGUF")
    assert local_weights.prepared(object(), source) == (source, "shipped")
    assert not (tmp_path / "cache").exists()


@needs_local
def test_the_copy_is_made_once_then_reused(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    import llama_cpp

    monkeypatch.delenv(local_weights.WEIGHTS_ENV, raising=False)
    monkeypatch.setenv("GRANDROUNDS_CACHE_DIR", str(tmp_path))
    source = local.gguf_path()
    path, encoding = local_weights.prepared(llama_cpp, source)
    assert encoding == "q8_0" and path.parent == tmp_path / "models" and path.is_file()
    assert path.read_bytes()[:4] == b"GGUF"
    # Q8_0 holds 8.5 bits per weight where the shipped Q4_1 holds 5: a bigger file, not a truncated one.
    assert path.stat().st_size > source.stat().st_size
    made = path.stat().st_mtime_ns
    assert local_weights.prepared(llama_cpp, source) == (path, "q8_0")
    assert path.stat().st_mtime_ns == made
    assert [p.name for p in path.parent.iterdir()] == [path.name]  # no temporary file left behind


@needs_local
def test_an_unwritable_cache_falls_back_to_the_shipped_file_with_a_warning(monkeypatch: pytest.MonkeyPatch, tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    import llama_cpp

    monkeypatch.delenv(local_weights.WEIGHTS_ENV, raising=False)
    blocker = tmp_path / "not-a-directory"
    blocker.write_text("a file where the cache directory would go")
    monkeypatch.setenv("GRANDROUNDS_CACHE_DIR", str(blocker))
    source = local.gguf_path()
    with caplog.at_level(logging.WARNING, logger="agents.providers.local_weights"):
        assert local_weights.prepared(llama_cpp, source) == (source, "shipped")
    assert "using the shipped file" in caplog.text


@needs_local
def test_run_refuses_an_unknown_encoding_in_one_line_before_any_run(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    from click.testing import CliRunner

    from tui.cli.main import cli

    monkeypatch.setenv(local_weights.WEIGHTS_ENV, "q2_k")
    result = CliRunner().invoke(cli, ["run", "insulin-error-disclosure", "--out", str(tmp_path)])
    assert result.exit_code == 2
    assert "GRANDROUNDS_LOCAL_WEIGHTS='q2_k': expected one of q8_0, shipped" in result.output
    assert "Traceback" not in result.output and not list(tmp_path.rglob("*.jsonl"))  # nothing started
