"""Score a transcript and record the score in it: rules, optional judge, aggregation, `Scored` event.

A score is appended to the transcript it scores (never rewriting a line), and only to a run that
has ended cleanly: a running or cut-off transcript is scored in memory but left untouched.
"""

from __future__ import annotations

import asyncio
import os
from pathlib import Path

from transcripts.events import FINISHED_STATUSES, Scored, Usage
from transcripts.locks import TranscriptBusy, TranscriptLock
from transcripts.redaction import redacted_json
from transcripts.scoring import rules
from transcripts.scoring.aggregate import aggregate
from transcripts.scoring.cache import JudgeCache, default_cache_path
from transcripts.scoring.conflict_judge import judge_conflicts
from transcripts.scoring.judge import Complete, Judge, JudgeUnavailable
from transcripts.scoring.run_view import ScoringError, run_view
from transcripts.scoring.scorecard import Scorecard
from transcripts.store import Transcript, read_transcript

LOCK_WAIT_S = 5.0  # a scorer waits this long for another scorer's append

SCORER_VERSION = "1.0"


async def abuild_scorecard(transcript: Transcript, judge: Judge | None = None) -> tuple[Scorecard, Usage]:
    """The scorecard of a transcript (no side effects). Raises ScoringError if it cannot be scored."""
    view = run_view(transcript)
    judged = None
    if view.open_ended and judge is not None and view.scenario.conflicts:
        judged = await judge_conflicts(judge, view)  # the judge reads; the rules below score
    conflicts, items = rules.conflict_outcomes(view, judged)
    hits, flag_items = rules.red_flag_items(view)
    items += flag_items
    grounding, grounding_items = rules.grounding(view)
    items += grounding_items
    diagnosis = None
    check = rules.diagnosis(view)
    if check is not None:
        diagnosis = check.outcome
        if judge is not None and not diagnosis.correct and diagnosis.given:
            verdict, reason = await judge.same_diagnosis(" / ".join(check.expected_all), diagnosis.given)
            if verdict is not None:  # an undecided judge leaves the normalised verdict standing
                diagnosis.correct, diagnosis.method = verdict, "judge"
            item = rules.diagnosis_item(diagnosis)
            item.reason = f"{item.reason}; judge: {reason}"
        else:
            item = rules.diagnosis_item(diagnosis)
        items.append(item)
    agreement = None
    ungraded = 0
    if judge is not None and view.scenario.rubric:
        readings = {c.id: (c.option, c.verdict) for c in conflicts if c.judged and c.verdict}
        graded = await judge.grade_rubric(view, readings or None)
        items += graded.items
        agreement, ungraded = graded.agreement, graded.ungraded
    process = rules.process(view)
    items += rules.process_items(process, view)
    dimensions, overall = aggregate(items)
    card = Scorecard(
        scorer_version=SCORER_VERSION,
        judge=judge.model if judge is not None else None,
        overall=overall,
        dimensions=dimensions,
        items=items,
        conflicts=conflicts,
        red_flags_hit=hits,
        grounding=grounding,
        diagnosis=diagnosis,
        process=process,
        rubric_agreement=agreement,
        judge_samples=judge.samples if judge is not None else 0,
        rubric_ungraded=ungraded,
        status=view.status,
    )
    return card, (judge.usage if judge is not None else Usage())


def appendable(transcript: Transcript) -> str | None:
    """Why a score must not be appended to this transcript, or None when it may be."""
    if transcript.started is None:
        return "not a transcript (no run_started event)"
    if transcript.truncated:
        return "the transcript is cut off mid-line"
    if transcript.ended is None:
        return "the run has not ended (still running, or killed)"
    return None


def needs_score(transcript: Transcript, judge: str | None = None) -> bool:
    """True when the run finished and has no score from this scorer version and judge."""
    if appendable(transcript) is not None or transcript.status not in FINISHED_STATUSES:
        return False
    return not any(s.scorer_version == SCORER_VERSION and s.judge == judge for s in transcript.scores)


def current_score(transcript: Transcript, judge: str | None = None) -> Scored | None:
    """The newest score from this scorer version and judge, if any."""
    for event in reversed(transcript.scores):
        if event.scorer_version == SCORER_VERSION and event.judge == judge:
            return event
    return None


def _append(path: Path, transcript: Transcript, event: Scored) -> bool:
    """Append one line under the transcript's lock, refusing if the file changed since it was read
    or does not end in a newline. False when another scorer appended this score meanwhile.

    Not fsynced: a score is derived data; if a crash loses it, `needs_score` asks for it again.
    """
    try:
        lock = TranscriptLock(path).acquire(wait_s=LOCK_WAIT_S)
    except TranscriptBusy:
        raise ScoringError(f"{path}: another process is writing this transcript; score not recorded (score it again later)") from None
    with lock:
        fh = lock.fh
        assert fh is not None
        stat = os.fstat(fh.fileno())
        unchanged = transcript.size >= 0 and (stat.st_size, stat.st_mtime_ns) == (transcript.size, transcript.mtime_ns)
        now = transcript if unchanged else read_transcript(path)  # re-read only when it may have changed
        if len(now.events) != len(transcript.events) or now.truncated != transcript.truncated:
            if any(s.scorer_version == event.scorer_version and s.judge == event.judge for s in now.scores[len(transcript.scores):]):
                return False  # another scorer got there first: no duplicate
            raise ScoringError(f"{path}: changed since it was read; score not recorded (score it again)")
        fh.seek(0, os.SEEK_END)
        size = fh.tell()
        if size:
            fh.seek(size - 1)
            if fh.read(1) != b"\n":
                raise ScoringError(f"{path}: does not end with a newline; score not recorded")
        fh.seek(0)
        event.seq = sum(1 for line in fh if line.strip())  # as TranscriptWriter numbers lines
        fh.seek(0, os.SEEK_END)
        fh.write((redacted_json(event.model_dump_json()) + "\n").encode("utf-8"))
        fh.flush()
    return True


def make_judge(model: str | None, samples: int, path: Path, complete: Complete | None = None) -> Judge | None:
    if not model:
        return None
    return Judge(model, samples, cache=JudgeCache(default_cache_path(path)), complete=complete)


async def ascore_transcript(
    path: Path | str,
    judge: str | None = None,
    samples: int = 1,
    *,
    record: bool = True,
    complete: Complete | None = None,
    transcript: Transcript | None = None,
) -> Scorecard:
    """Score the transcript at `path`; append a `Scored` event when `record` and the run has ended."""
    path = Path(path)
    transcript = transcript or read_transcript(path)
    the_judge = make_judge(judge, samples, path, complete)
    try:
        card, usage = await abuild_scorecard(transcript, the_judge)
        if the_judge is not None:
            the_judge.check_available()
    finally:
        if the_judge is not None and the_judge.cache is not None:
            the_judge.cache.close()
    if record:
        record_score(path, transcript, card, usage)
    return card


def record_score(path: Path, transcript: Transcript, card: Scorecard, usage: Usage | None = None) -> bool:
    """Append `card` as a `Scored` event when the transcript may take one; True when appended."""
    if appendable(transcript) is not None:
        return False
    event = Scored(scorer_version=SCORER_VERSION, judge=card.judge, scorecard=card, usage=usage or Usage())
    return _append(Path(path), transcript, event)


def score_transcript(
    path: Path | str,
    judge: str | None = None,
    samples: int = 1,
    *,
    record: bool = True,
    complete: Complete | None = None,
) -> Scorecard:
    """Synchronous `ascore_transcript`. Without a judge no event loop is needed (safe inside one)."""
    if judge is None:
        path = Path(path)
        transcript = read_transcript(path)
        card = score_transcript_rules(transcript)
        if record:
            record_score(path, transcript, card)
        return card
    return asyncio.run(ascore_transcript(path, judge, samples, record=record, complete=complete))


def score_transcript_rules(transcript: Transcript) -> Scorecard:
    """Rules-only scorecard without an event loop (the fast path used by batches and the benchmark)."""
    coro = abuild_scorecard(transcript, None)
    try:
        coro.send(None)
    except StopIteration as done:
        return done.value[0]
    coro.close()
    raise RuntimeError("rules-only scoring awaited something")  # pragma: no cover


__all__ = [
    "SCORER_VERSION",
    "JudgeUnavailable",
    "ScoringError",
    "abuild_scorecard",
    "appendable",
    "ascore_transcript",
    "current_score",
    "needs_score",
    "record_score",
    "score_transcript",
    "score_transcript_rules",
]
