"""Print a deliberation readably as its events arrive (used by `grandrounds run`).

Everything that came from a model or a scenario is wrapped in `rich.text.Text`, so markup in it is
printed literally and never interpreted.
"""

from __future__ import annotations

from typing import Any

from rich.console import Console
from rich.text import Text

from tui.safe_text import literal_text

from transcripts.events import (
    ChairDecided,
    Event,
    FactRevealed,
    ModelErrored,
    ResolutionReached,
    RunEnded,
    RunStarted,
    TurnTaken,
)

SPEAKER_STYLES = ("cyan", "magenta", "green", "yellow", "blue", "bright_red", "bright_cyan", "bright_magenta")
DIMENSION_STYLES = {
    "truthfulness": "bright_blue",
    "safety": "red",
    "interpretability": "cyan",
    "fairness": "yellow",
    "privacy": "magenta",
    "accountability": "green",
}
literal = literal_text  # untrusted text: no markup, control characters made visible


class EventPrinter:
    def __init__(self, console: Console) -> None:
        self.console = console
        self.styles: dict[str, str] = {}
        self.labels: dict[str, str] = {}
        self.conflicts: dict[str, dict[str, Any]] = {}

    def _speaker(self, role: str) -> Text:
        style = self.styles.setdefault(role, SPEAKER_STYLES[len(self.styles) % len(SPEAKER_STYLES)])
        return literal(self.labels.get(role, role), f"bold {style}")

    def __call__(self, event: Event) -> None:
        handler = getattr(self, f"_on_{event.type}", None)
        if handler is not None:
            handler(event)

    def _on_run_started(self, e: RunStarted) -> None:
        for member in [*e.team.get("members", []), e.team.get("chair", {})]:
            role = member.get("role", "")
            self.labels[role] = member.get("name") or role.replace("_", " ").title()
            self._speaker(role)
        self.conflicts = {c["id"]: c for c in e.scenario.get("conflicts", [])}
        title = Text.assemble(("Case ", "bold"), literal(e.scenario_id, "bold"), " - ", literal(e.scenario.get("title", "")))
        self.console.rule(title)
        models = sorted(set(e.models.values()))
        self.console.print(
            Text.assemble(
                "team ", literal(e.team_id, "bold"), "  protocol ", literal(e.protocol), "  disclosure ", literal(e.disclosure),
                "  model ", literal(", ".join(models)), f"  seed {e.seed}",
            ),
        )
        self.console.print(Text.assemble(("Question: ", "bold"), literal(e.scenario.get("question", ""))))

    def _on_turn(self, e: TurnTaken) -> None:
        head = Text.assemble(f"\n[round {e.round}] ", self._speaker(e.member))
        if e.attempts > 1:
            head.append(f"  (valid after {e.attempts} attempts)" if e.ok else "", style="dim")
        self.console.print(head)
        if not e.ok or e.turn is None:
            self.console.print(Text.assemble(("  failed turn: ", "red"), literal(e.error or "no valid reply")))
            return
        turn = e.turn
        self.console.print(Text.assemble(("  position: ", "bold"), literal(turn.get("position", ""))))
        self.console.print(Text.assemble(("  recommends: ", "bold"), literal(turn.get("recommendation", ""))))
        for concern in turn.get("concerns", []):
            dim = concern.get("dimension", "")
            line = Text("  concern ")
            line.append(f"{dim}", style=DIMENSION_STYLES.get(dim, ""))
            if concern.get("conflict"):
                line.append(f" [{concern['conflict']}]", style="dim")
            line.append(": ")
            line.append_text(literal(concern.get("text", "")))
            self.console.print(line)
        for claim in turn.get("claims", [])[:3]:
            cites = ", ".join(claim.get("facts", [])) or "no facts cited"
            self.console.print(Text.assemble("  claim: ", literal(claim.get("text", "")), (f"  ({cites})", "dim")))
        if turn.get("choices"):
            picks = ", ".join(f"{c.get('conflict')}={c.get('option')}" for c in turn["choices"])
            self.console.print(Text.assemble(("  favours: ", "bold"), literal(picks)))

    def _on_answer(self, e: Any) -> None:
        """One independent answer of a self_consistency run."""
        head = Text.assemble(f"\n[answer {e.index}] ", self._speaker(e.member))
        self.console.print(head)
        if not e.ok or not e.resolution:
            self.console.print(Text.assemble(("  failed answer: ", "red"), literal(e.error or "no valid reply")))
            return
        self.console.print(Text.assemble(("  recommends: ", "bold"), literal(e.resolution.get("final_recommendation", ""))))
        if e.resolution.get("choices"):
            picks = ", ".join(f"{c.get('conflict')}={c.get('option')}" for c in e.resolution["choices"])
            self.console.print(Text.assemble(("  picks: ", "bold"), literal(picks)))

    def _on_fact_revealed(self, e: FactRevealed) -> None:
        self.console.print(Text.assemble(("  revealed ", "dim"), literal(e.fact_id, "bold"), (" at the request of ", "dim"), self._speaker(e.requested_by), ": ", literal(e.text)))

    def _on_chair_decision(self, e: ChairDecided) -> None:
        nxt = Text("resolve") if e.next_speaker == "resolve" else self._speaker(e.next_speaker)
        self.console.print(Text.assemble(("\n  chair calls on ", "dim"), nxt, ("  " if e.reason else "", "dim"), literal(e.reason, "dim")))

    def _on_model_error(self, e: ModelErrored) -> None:
        retry = "retrying" if e.will_retry else "giving up"
        self.console.print(Text.assemble(("  ! ", "yellow"), self._speaker(e.member), (f" {e.purpose} attempt {e.attempt}: {e.error_type}: ", "yellow"), literal(e.message[:160], "yellow"), (f" ({retry})", "dim")))

    def _on_resolution(self, e: ResolutionReached) -> None:
        self.console.rule(Text("Resolution", style="bold"))
        if not e.ok or not e.resolution:
            self.console.print(Text.assemble(("No valid resolution: ", "red"), literal(e.error or "")))
            return
        res = e.resolution
        self.console.print(Text.assemble(("Recommendation: ", "bold"), literal(res.get("final_recommendation", ""))))
        for choice in res.get("choices", []):
            conflict = self.conflicts.get(choice.get("conflict"), {})
            option = next((o for o in conflict.get("options", []) if o.get("id") == choice.get("option")), None)
            line = Text.assemble(literal(choice.get("conflict", ""), "bold"), " ", literal(conflict.get("title", ""), "dim"), "\n    -> ", literal(choice.get("option", ""), "bold"))
            if option:
                line.append("  ")
                line.append_text(literal(option.get("text", "")))
            if choice.get("rationale"):
                line.append_text(Text.assemble(("\n       because ", "dim"), literal(choice["rationale"], "dim")))
            self.console.print(line)
        if res.get("diagnosis"):
            self.console.print(Text.assemble(("Diagnosis: ", "bold"), literal(res["diagnosis"])))
        for d in res.get("dissent", []):
            self.console.print(Text.assemble(("Dissent ", "bold"), literal(d.get("member", "")), ": ", literal(d.get("text", ""))))
        if res.get("tradeoffs"):
            self.console.print(Text.assemble(("Trade-offs: ", "bold"), literal(", ".join(res["tradeoffs"]))))
        if res.get("uncertainty"):
            self.console.print(Text.assemble(("Uncertainty: ", "bold"), literal(res["uncertainty"])))
        if res.get("sign_off"):
            self.console.print(Text.assemble(("Signed off by: ", "bold"), literal(res["sign_off"])))

    def _on_run_ended(self, e: RunEnded) -> None:
        style = {"completed": "green", "limit_reached": "yellow"}.get(e.status, "red")
        tokens = e.usage.prompt_tokens + e.usage.completion_tokens
        line = Text.assemble(("\nrun ", "bold"), (e.status, f"bold {style}"), f"  {e.turns} turns, {e.rounds} rounds, {tokens} tokens, ${e.usage.cost_usd:.4f}, {e.duration_s:.1f}s")
        if e.reason:
            line.append("  ")
            line.append_text(literal(e.reason, "dim"))
        self.console.print(line)
