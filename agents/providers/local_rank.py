"""One value from a closed list, by log-likelihood: how the embedded model answers a single-enum
schema (the stepwise turn's choices), the way lm-evaluation-harness scores multiple choice.

The prompt ends with the reply's JSON opening, `{"answer": "`; each allowed value is scored by the
mean log-probability of its tokens and the closing quote. The prompt is evaluated once, in
sequence 0 (reusing what is cached there, and left cached for the next call); every candidate then
gets its own sequence, a copy of the prompt's cells, and all candidates are evaluated in one batch.
Deterministic: no sampling.
"""

from __future__ import annotations

from typing import Any

import numpy as np


def _log_softmax(rows: np.ndarray) -> np.ndarray:
    rows = rows.astype(np.float64)
    top = rows.max(axis=-1, keepdims=True)
    return rows - (top + np.log(np.exp(rows - top).sum(axis=-1, keepdims=True)))


def rank_values(llm: Any, base: list[int], candidates: list[list[int]]) -> tuple[int, int]:
    """(index of the likeliest candidate, tokens scored). Call with the model lock held."""
    import llama_cpp

    from agents.providers.local_batch import _batch, _decode

    ctx = llm._ctx.ctx
    common = min(llm.longest_token_prefix(llm.input_ids[: llm.n_tokens].tolist(), base), len(base) - 1)
    llm.n_tokens = common
    llm.eval(base[common:])  # the last prompt token's logits score every candidate's first token
    first = _log_softmax(np.ctypeslib.as_array(llama_cpp.llama_get_logits_ith(ctx, -1), shape=(llm.n_vocab(),)).copy())
    memory = llama_cpp.llama_get_memory(ctx)
    longer = [(i, c) for i, c in enumerate(candidates) if len(c) > 1]
    rows: dict[int, np.ndarray] = {}
    if longer:
        n = sum(len(c) - 1 for _, c in longer)
        batch = _batch(n, len(longer) + 1)
        index: list[tuple[int, int]] = []  # (candidate, position in its tokens) per batch row
        try:
            b = batch.batch
            j = 0
            for k, (i, cand) in enumerate(longer):
                llama_cpp.llama_memory_seq_cp(memory, 0, k + 1, 0, len(base))
                for t, token in enumerate(cand[:-1]):
                    b.token[j], b.pos[j], b.n_seq_id[j], b.logits[j] = token, len(base) + t, 1, True
                    b.seq_id[j][0] = k + 1
                    index.append((i, t))
                    j += 1
            b.n_tokens = j
            _decode(llm, batch)
            logits = np.ctypeslib.as_array(llama_cpp.llama_get_logits(ctx), shape=(j * llm.n_vocab(),)).reshape(j, -1)
            scored = _log_softmax(logits)
            for row, (i, t) in enumerate(index):
                rows.setdefault(i, np.zeros(len(candidates[i]) - 1))[t] = scored[row][candidates[i][t + 1]]
        finally:
            batch.close()
            for k in range(len(longer)):
                llama_cpp.llama_memory_seq_rm(memory, k + 1, -1, -1)
    best, best_score = 0, float("-inf")
    for i, cand in enumerate(candidates):
        total = float(first[cand[0]]) + (float(rows[i].sum()) if i in rows else 0.0)
        score = total / len(cand)
        if score > best_score:
            best, best_score = i, score
    return best, sum(len(c) for c in candidates)
