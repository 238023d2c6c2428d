"""Several one-string replies from the embedded model in one pass: parallel sequences in llama.cpp.

Generating a token costs the embedded model about as much for eight sequences as for one (each step
reads all the weights; on two cores that read, not the arithmetic, is the cost), so the stepwise
turn's independent sentences (see `agents.providers.siblings`) are decoded together:
- the prompts' common start (the case and the speaker) is evaluated once, in sequence 0, which
  also keeps it cached for the next call, exactly as a single call would;
- each request gets its own sequence: a copy of that start (llama.cpp shares the cells), its own
  prompt tail and JSON opening (`{"sentence": "`), evaluated in one batch;
- then one token per unfinished sequence per step, each sampled under its own grammar
  (`LazyGrammar`) with its own seeded random generator, until its string closes, its token cap or
  its deadline.
A single request takes the same path, so a reply does not depend on whether it was batched (up to
llama.cpp's floating-point order for different batch shapes).

Sampling, per sequence: repeat penalty over the last 64 tokens, the grammar over the 64 likeliest
tokens (the whole vocabulary if none fits), then greedy at temperature 0, else temperature, top-k
40, top-p (the call's, default 0.95) and min-p 0.05 -- llama-cpp-python's defaults.
"""

from __future__ import annotations

import asyncio
import json
import re
import threading
import time
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from agents.providers.siblings import SiblingGroup

MAX_SEQUENCES = 15  # besides sequence 0, which holds the shared start
REPEAT_LAST = 64
TOP_K, TOP_P, MIN_P = 40, 0.95, 0.05
# Past this share of its token cap a reply is nudged towards ending its sentence (Hugging Face's
# exponential_decay_length_penalty, on the tokens that end one): a small model that would run on
# until a grammar's word cap forces a full stop ("... reviewed by.") or glues its last words together
# ("forclinicaljudgment.") ends instead where a full stop is already likely.
SOFT_END_START, SOFT_END_DECAY = 0.4, 1.2
_ENDERS = frozenset({".", "?", "!", '."', '?"', '!"'})


@dataclass
class StringRequest:
    messages: list[dict[str, Any]]
    schema: dict[str, Any]
    name: str
    temperature: float = 0.2
    max_tokens: int = 72
    top_p: float | None = None
    seed: int | None = 0
    timeout_s: float | None = None


@dataclass
class _Sequence:
    request: StringRequest
    seq_id: int
    tokens: list[int]  # the whole prompt, JSON opening included
    grammar: Any
    rng: np.random.Generator
    deadline: float | None
    text: str = ""
    generated: list[int] = field(default_factory=list)
    finish: str = ""
    error: Exception | None = None
    logits_index: int = -1

    @property
    def done(self) -> bool:
        return bool(self.finish) or self.error is not None


def _common_prefix(lists: list[list[int]]) -> int:
    first = lists[0]
    n = min(len(t) for t in lists)
    for i in range(n):
        token = first[i]
        if any(t[i] != token for t in lists[1:]):
            return i
    return n


def sentence_end_tokens(llm: Any) -> np.ndarray:
    """The vocabulary's tokens that end a sentence: a full stop, question or exclamation mark, alone
    or with a closing quote (computed once per model)."""
    cached = getattr(llm, "_grandrounds_enders", None)
    if cached is None:
        ids = [t for t in range(llm.n_vocab()) if llm.detokenize([t]).decode("utf-8", errors="ignore").strip() in _ENDERS]
        cached = np.asarray(ids, dtype=np.intc)
        llm._grandrounds_enders = cached
    return cached


def _nudge_to_end(seq: _Sequence, scores: np.ndarray, enders: np.ndarray) -> None:
    start = max(8, int(SOFT_END_START * seq.request.max_tokens))
    over = len(seq.generated) - start
    if over >= 0 and len(enders):
        picked = scores[enders]
        scores[enders] = picked + np.abs(picked) * (SOFT_END_DECAY ** (over + 1) - 1)


def _sample(seq: _Sequence, logits: np.ndarray, penalty: float, enders: np.ndarray | None = None) -> int:
    scores = logits.astype(np.float32, copy=True)
    if enders is not None:
        _nudge_to_end(seq, scores, enders)
    recent = np.unique(np.asarray((seq.tokens + seq.generated)[-REPEAT_LAST:], dtype=np.intc))
    if penalty != 1.0 and len(recent):
        picked = scores[recent]
        scores[recent] = np.where(picked > 0, picked / penalty, picked * penalty)
    scores = seq.grammar.allowed(scores)
    temperature = seq.request.temperature
    if temperature <= 0:
        return int(np.argmax(scores))
    top = np.argpartition(scores, -TOP_K)[-TOP_K:]
    top = top[np.argsort(-scores[top])]
    top = top[np.isfinite(scores[top])]
    z = scores[top].astype(np.float64) / temperature
    p = np.exp(z - z.max())
    p /= p.sum()
    keep = max(1, int(np.searchsorted(np.cumsum(p), seq.request.top_p or TOP_P) + 1))
    top, p = top[:keep], p[:keep]
    mask = p >= MIN_P * p[0]
    top, p = top[mask], p[mask] / p[mask].sum()
    return int(seq.rng.choice(top, p=p))


def complete_strings(llm: Any, prompts: list[list[int]], openings: list[str], requests: list[StringRequest], grammar_text: Any, penalty: float) -> list[tuple[str, int, str] | Exception]:
    """Decode every request to its closed one-string JSON; call with the model lock held.
    `prompts` hold each request's tokens with its JSON opening last. Returns, per request,
    (text, tokens generated, finish reason) or the exception that stopped it."""
    import llama_cpp

    from agents.providers.lazy_grammar import LazyGrammar

    memory = llama_cpp.llama_get_memory(llm._ctx.ctx)
    enders = sentence_end_tokens(llm)
    shared = min(_common_prefix(prompts), min(len(p) for p in prompts) - 1)
    cached = llm.longest_token_prefix(llm.input_ids[: llm.n_tokens].tolist(), prompts[0][:shared])
    llm.n_tokens = min(cached, shared)
    if shared > llm.n_tokens:
        llm.eval(prompts[0][llm.n_tokens : shared])
    llm._ctx.kv_cache_seq_rm(0, shared, -1)
    llm.n_tokens = shared

    now = time.perf_counter()
    seqs: list[_Sequence] = []
    try:
        for i, (req, tokens, opening) in enumerate(zip(requests, prompts, openings)):
            grammar = LazyGrammar(llm, grammar_text(req.schema))
            seq = _Sequence(req, i + 1, tokens, grammar, np.random.default_rng(req.seed or 0), now + req.timeout_s if req.timeout_s else None, text=opening)
            # The grammar starts after the JSON opening, which is already in the prompt.
            grammar.accept_tokens(llm.tokenize(opening.encode(), add_bos=False, special=False))
            llama_cpp.llama_memory_seq_cp(memory, 0, seq.seq_id, 0, shared)
            seqs.append(seq)
        _decode_tails(llm, seqs, shared)
        while True:
            live = [s for s in seqs if not s.done]
            if not live:
                break
            step: list[tuple[_Sequence, int]] = []
            for seq in live:
                row = np.ctypeslib.as_array(llama_cpp.llama_get_logits_ith(llm._ctx.ctx, seq.logits_index), shape=(llm.n_vocab(),))
                token = _sample(seq, row, penalty, enders)
                seq.grammar.accept(token)
                seq.generated.append(token)
                seq.text += llm.detokenize([token], prev_tokens=seq.tokens + seq.generated[:-1]).decode("utf-8", errors="ignore")
                closed = _closed(seq.text)
                if closed is not None:
                    seq.text, seq.finish = closed, "stop"
                elif token == llm.token_eos():
                    seq.finish = "stop"
                elif len(seq.generated) >= req_cap(seq):
                    seq.finish = "length"
                elif seq.deadline is not None and time.perf_counter() > seq.deadline:
                    from agents.providers.local import LocalTimeout

                    seq.error = LocalTimeout(f"local model passed its {seq.request.timeout_s:g}s timeout after {len(seq.generated)} tokens")
                else:
                    step.append((seq, token))
            if step:
                _decode_step(llm, step)
    finally:
        for seq in seqs:
            seq.grammar.close()
            llama_cpp.llama_memory_seq_rm(memory, seq.seq_id, -1, -1)
    return [s.error if s.error is not None else (s.text, len(s.generated), s.finish) for s in seqs]


def req_cap(seq: _Sequence) -> int:
    return max(1, seq.request.max_tokens)


def _batch(n_tokens: int, n_seq: int) -> Any:
    from llama_cpp import _internals

    return _internals.LlamaBatch(n_tokens=max(1, n_tokens), embd=0, n_seq_max=n_seq, verbose=False)


def _decode_tails(llm: Any, seqs: list[_Sequence], shared: int) -> None:
    """Each sequence's tokens after the shared start: all but the last in batches of at most n_batch
    tokens without logits, then every sequence's last token in one batch, keeping its logits."""
    body = [(seq, pos) for seq in seqs for pos in range(shared, len(seq.tokens) - 1)]
    for start in range(0, len(body), llm.n_batch):
        _decode_positions(llm, body[start : start + llm.n_batch], len(seqs) + 1, logits=False)
    _decode_positions(llm, [(seq, len(seq.tokens) - 1) for seq in seqs], len(seqs) + 1, logits=True)


def _decode_positions(llm: Any, items: list[tuple[_Sequence, int]], n_seq: int, logits: bool) -> None:
    if not items:
        return
    batch = _batch(len(items), n_seq)
    try:
        b = batch.batch
        for j, (seq, pos) in enumerate(items):
            b.token[j], b.pos[j], b.n_seq_id[j], b.logits[j] = seq.tokens[pos], pos, 1, logits
            b.seq_id[j][0] = seq.seq_id
            if logits:
                seq.logits_index = j
        b.n_tokens = len(items)
        _decode(llm, batch)
    finally:
        batch.close()


def _decode_step(llm: Any, step: list[tuple[_Sequence, int]]) -> None:
    batch = _batch(len(step), len(step) + 1)
    try:
        b = batch.batch
        for j, (seq, token) in enumerate(step):
            b.token[j], b.pos[j], b.n_seq_id[j], b.logits[j] = token, len(seq.tokens) + len(seq.generated) - 1, 1, True
            b.seq_id[j][0] = seq.seq_id
            seq.logits_index = j
        b.n_tokens = len(step)
        _decode(llm, batch)
    finally:
        batch.close()


def _decode(llm: Any, batch: Any) -> None:
    import llama_cpp

    code = llama_cpp.llama_decode(llm._ctx.ctx, batch.batch)
    if code != 0:
        from agents.providers.local import LocalRequestError

        raise LocalRequestError(f"local model: llama_decode failed with code {code} (the context may be full; set GRANDROUNDS_LOCAL_N_CTX)")


def serve_strings(requests: list[Any]) -> list[Any]:
    """Single-string replies (`local_batch.StringRequest`s), decoded together as parallel sequences:
    each prompt ends with its reply's JSON opening, `{"<name>": "`, which its grammar accepts first,
    and decoding stops once the string is closed (the rest of the JSON is fixed). Returns, per
    request, a `LocalReply` or the exception for it. Blocks; serialised across threads."""
    from agents.providers.local import _CALL_LOCK, REPEAT_PENALTY, LocalReply, LocalRequestError, _grammar_text_cached, _prompt_tokens, load, n_ctx

    llm = load()
    with _CALL_LOCK:
        start = time.perf_counter()
        prompts: list[list[int]] = []
        openings: list[str] = []
        for req in requests:
            clean = [{"role": m.get("role", "user"), "content": str(m.get("content") or "")} for m in req.messages]
            opening = f'{{"{req.name}": "'
            try:
                tokens = _prompt_tokens(llm, clean) + llm.tokenize(opening.encode(), add_bos=False, special=False)
            except Exception as exc:  # noqa: BLE001 - a template llama-cpp cannot render
                raise LocalRequestError(f"local model: cannot format the prompt: {exc}") from None
            prompts.append(tokens)
            openings.append(opening)
        # Every sequence's cells share the one context: the common start once, then each tail and reply.
        shared = _common_prefix(prompts)
        needed = shared + sum(len(t) - shared + r.max_tokens for t, r in zip(prompts, requests))
        if needed >= n_ctx():
            raise LocalRequestError(f"local model: {len(requests)} prompt(s) of up to {max(len(t) for t in prompts)} tokens do not fit n_ctx={n_ctx()} (set GRANDROUNDS_LOCAL_N_CTX)")
        results = complete_strings(llm, prompts, openings, requests, lambda schema: _grammar_text_cached(json.dumps(schema)), REPEAT_PENALTY)
        seconds = time.perf_counter() - start
    out: list[Any] = []
    for tokens, result in zip(prompts, results):
        if isinstance(result, Exception):
            out.append(result)
        else:
            text, produced, finish = result
            # The batch's seconds are shared by its replies, so that summing them gives the time spent.
            out.append(LocalReply(text, len(tokens), produced, finish, seconds / len(requests)))
    return out


_CLOSED = re.compile(r'^(\{"\w+": "(?:[^"\\]|\\.)*")')


def _closed(text: str) -> str | None:
    """`text` as a complete one-string JSON object once its string is closed, else None."""
    match = _CLOSED.match(text)
    return match.group(1) + "}" if match else None


# -- the async side: siblings' requests collected into one batch -------------------------------------


class Batcher:
    """Collects one sibling group's single-string requests and serves them in one pass once every
    sibling still running has sent one (see `agents.providers.siblings`)."""

    def __init__(self, group: SiblingGroup, serve: Any) -> None:
        self.group = group
        self.serve = serve  # blocking: list[StringRequest] -> list[result | Exception]
        self.waiting: list[tuple[StringRequest, asyncio.Future[Any]]] = []
        self.running = False
        group.on_change(self._maybe_start)

    async def submit(self, request: StringRequest) -> Any:
        future: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        self.waiting.append((request, future))
        self._maybe_start()
        return await future

    def _maybe_start(self) -> None:
        if self.running or not self.waiting or len(self.waiting) < self.group.live:
            return
        batch, self.waiting = self.waiting[:MAX_SEQUENCES], self.waiting[MAX_SEQUENCES:]
        self.running = True
        asyncio.get_running_loop().create_task(self._run(batch))

    async def _run(self, batch: list[tuple[StringRequest, asyncio.Future[Any]]]) -> None:
        try:
            results = await asyncio.to_thread(self.serve, [r for r, _ in batch])
        except Exception as exc:  # noqa: BLE001 - handed to every caller of this batch
            results = [exc] * len(batch)
        finally:
            self.running = False
        for (_, future), result in zip(batch, results):
            if future.done():
                continue
            if isinstance(result, BaseException):
                future.set_exception(result)
            else:
                future.set_result(result)
        self._maybe_start()


_BATCHERS: dict[int, tuple[SiblingGroup, Batcher]] = {}
_BATCHERS_LOCK = threading.Lock()


def batcher_for(group: SiblingGroup, serve: Any) -> Batcher:
    with _BATCHERS_LOCK:
        hit = _BATCHERS.get(id(group))
        if hit is None or hit[0] is not group:
            if len(_BATCHERS) > 256:
                for key in [k for k, (g, _) in _BATCHERS.items() if g.live <= 0]:
                    del _BATCHERS[key]
            hit = (group, Batcher(group, serve))
            _BATCHERS[id(group)] = hit
        return hit[1]

