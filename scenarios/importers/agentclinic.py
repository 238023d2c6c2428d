"""AgentClinic OSCE records (Schmidgall et al., MIT) -> diagnostic scenarios.

A record is `{"OSCE_Examination": {"Objective_for_Doctor", "Patient_Actor": {...}, "Physical_Examination_Findings":
{...}, "Test_Results": {...}, "Correct_Diagnosis"}}` (see scenarios/external/agentclinic/SOURCE.md). The
findings and results nest to any depth with free key names; they are flattened into readable facts
("Vital signs — heart rate: 72 bpm"), short panels grouped into one fact, and revealed on request.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, ClassVar

from scenarios.importers.base import JsonLinesImporter, Locator, RecordError
from scenarios.model import Fact, Provenance, RubricCriterion, Scenario, Stakeholder
from scenarios.variants import is_child, sex_specific_terms

__all__ = ["AgentClinicImporter", "flatten_findings", "humanize_key", "parse_demographics"]

MAX_FACTS = 30
"""At most this many facts per case (history facts + examination/test facts)."""
GROUP_MAX_ITEMS = 10
GROUP_MAX_VALUE = 60
"""A mapping whose values are all short (a vital-signs set, a lab panel) becomes one fact, not one per value."""
TITLE_MAX = 110
QUESTION = "What is the most likely diagnosis, and what should the team do next?"

# Leaf keys that only say "here is the value": dropped from the label when something names it already.
_VALUE_KEYS = {"findings", "finding", "result", "results", "value", "level", "description", "details"}

_FEMALE = re.compile(r"\b(female|woman|girl|lady)\b", re.I)
_MALE = re.compile(r"\b(male|man|boy|gentleman)\b", re.I)
_RACE = re.compile(
    r"\b(Caucasian|white|Black|African[- ]American|Hispanic|Latin[ao]|Asian(?:[- ]American)?|Native American|Pacific Islander)\b",
    re.I,
)
_AGE = re.compile(r"\b(\d+(?:\.\d+)?)[- ](year|month|week|day)s?[- ]old\b", re.I)

# Specialty from the diagnosis, first match wins; children get a "pediatric" prefix.
_SPECIALTIES: list[tuple[str, str]] = [
    (r"pregnan|uterine rupture|endometritis|listeriosis|placent|ectopic", "obstetrics"),
    (r"granulosa|meigs|pelvic inflammatory|genitopelvic|ovar|cervical cancer|menarche|aromatase", "gynecology"),
    (r"phyllodes|breast", "breast surgery"),
    (r"leuk|lymphoma|thrombocythemia|hemophilia|thrombasthenia|macroglobulin|myeloma|anemia|erythropoietin", "hematology"),
    (r"adenocarcinoma|carcinoma|cancer|tumou?r|melanoma|osteoclastoma|sarcoma", "oncology"),
    (r"dermatitis|pemphigus|keratosis|molluscum|pyoderma|erythema|eczema|psoriasis|bowen|stevens|steven-johnson|"
     r"bed bug|leprosy|roseola|urticaria|rash", "dermatology"),
    (r"schizo|personality|oppositional|nightmare|depress|bipolar|akathisia|anxiety|psychos|normal behavior|"
     r"intoxication|disorder", "psychiatry"),
    (r"myasthenia|seizure|epilep|encephal|leukoencephal|dementia|parkinson|huntington|syring|neuralgia|"
     r"multiple system atrophy|sclerosis|neuroleptic|intraventricular|stroke|migraine", "neurology"),
    (r"vertigo|bppv|labyrinthitis|otitis|hearing", "otolaryngology"),
    (r"retin|glaucoma|uveitis|cataract", "ophthalmology"),
    (r"bursitis|dislocation|tendon|capsulitis|osteoarthritis|disc herniation|tenosynovitis|perthes|fracture", "orthopedics"),
    (r"arthritis|lupus|gout|vasculitis", "rheumatology"),
    (r"nephritis|nephropathy|kidney|renal|glomerul", "nephrology"),
    (r"cystitis|torsion|prostat|testic|urolog", "urology"),
    (r"coarctation|septal defect|aortic arch|cardio|myocard|endocard|heart|venous insufficiency", "cardiology"),
    (r"asthma|bronchiectasis|pneumonia|tuberculosis|respiratory distress|lung|copd|pulmonary", "pulmonology"),
    (r"hirschsprung|atresia|boerhaave|mesenteric|appendic|hemorrhoid|hernia", "general surgery"),
    (r"colitis|bowel|hepat|cholangitis|dumping|crohn|celiac|pancrea|jaundice|gastr|esophag", "gastroenterology"),
    (r"rubella|gonococcal|cytomegalovirus|infection|hiv|sepsis", "infectious disease"),
    (r"thyroid|diabet|adrenal|cushing|addison|pituitar", "endocrinology"),
]


@dataclass(frozen=True)
class _Fact:
    section: str
    text: str


def _text(value: Any) -> str:
    """Any JSON value as one readable line ('' for nothing)."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, (int, float)):
        return str(value)
    if isinstance(value, str):
        return " ".join(value.split())
    if isinstance(value, list):
        return "; ".join(t for t in (_text(v) for v in value) if t)
    if isinstance(value, dict):
        return "; ".join(f"{humanize_key(k)}: {t}" for k, v in value.items() if (t := _text(v)))
    return " ".join(str(value).split())


def _items(value: Any) -> list[str]:
    """A history field as a list of texts: a string stays one item, a list or mapping gives one item each."""
    if isinstance(value, list):
        return [t for t in (_text(v) for v in value) if t]
    if isinstance(value, dict):
        return [f"{humanize_key(k, first=True)}: {t}" for k, v in value.items() if (t := _text(v))]
    t = _text(value)
    return [t] if t else []


def humanize_key(key: Any, first: bool = False) -> str:
    """'Acetylcholine_Receptor_Antibodies' -> 'acetylcholine receptor antibodies'; acronyms (WBC, MRI, CT)
    and names ("Finkelstein's") keep their capitals; `first=True` capitalises the first letter."""
    words = [w for w in re.split(r"[_\s]+", str(key).strip()) if w]
    out = []
    for word in words:
        capitals = sum(c.isupper() for c in word)
        if capitals >= 2 or "'" in word or re.match(r"^[A-Z]-", word) or len(word) == 1:
            out.append(word)
        else:
            out.append(word.lower())
    label = " ".join(out) or str(key)
    if first and label:
        label = label[0].upper() + label[1:]
    return label


def _lower_first(text: str) -> str:
    if len(text) > 1 and text[0].isupper() and not text[1].isupper():
        return text[0].lower() + text[1:]
    return text


def _clip(text: str, limit: int) -> str:
    if len(text) <= limit:
        return text
    cut = text[: limit - 1].rsplit(" ", 1)[0].rstrip(",;:")
    return cut + "…"


def _sentence(text: str) -> str:
    text = text.strip()
    return text if not text or text[-1] in ".!?…" else text + "."


# -- examination findings and test results -----------------------------------------------------------

def _is_leaf(value: Any) -> bool:
    return not isinstance(value, dict) and not (isinstance(value, list) and any(isinstance(v, (dict, list)) for v in value))


def _label(path: list[str]) -> str:
    """Sub-path under a section -> 'upper extremities, sensation'; a trailing 'Findings' is dropped."""
    parts = [humanize_key(p) for p in path]
    if len(parts) > 1 and parts[-1].lower() in _VALUE_KEYS:
        parts = parts[:-1]
    return ", ".join(parts)


def _flatten_section(section: str, value: Any) -> list[_Fact]:
    title = humanize_key(section, first=True)
    facts: list[_Fact] = []

    def walk(node: Any, path: list[str]) -> None:
        if isinstance(node, list) and not _is_leaf(node):
            for i, item in enumerate(node, start=1):
                walk(item, [*path, str(i)] if len(node) > 1 else path)
            return
        if not isinstance(node, dict):
            text = _text(node)
            if not text:
                return
            label = _label(path)
            if label and label.lower() not in _VALUE_KEYS:
                facts.append(_Fact(title, f"{title} — {label}: {text}"))
            else:
                facts.append(_Fact(title, f"{title}: {text}"))
            return
        leaves = {k: _text(v) for k, v in node.items() if _is_leaf(v)}
        leaves = {k: v for k, v in leaves.items() if v}
        if (
            len(leaves) == len(node)
            and 2 <= len(leaves) <= GROUP_MAX_ITEMS
            and all(len(v) <= GROUP_MAX_VALUE for v in leaves.values())
        ):
            body = "; ".join(f"{humanize_key(k)}: {v}" for k, v in leaves.items())
            label = _label(path) if path else ""
            facts.append(_Fact(title, f"{title} — {label} — {body}" if label else f"{title} — {body}"))
            return
        for key, child in node.items():
            walk(child, [*path, str(key)])

    walk(value, [])
    return facts


def flatten_findings(findings: Any, budget: int) -> list[str]:
    """Examination findings or test results (any nesting) -> fact texts, at most `budget` of them.

    One fact per leaf, short panels grouped; when over budget, the section with the most facts is
    merged into one fact until the total fits."""
    if findings is None:
        return []
    if not isinstance(findings, dict):
        text = _text(findings)
        return [text] if text else []
    sections: list[list[_Fact]] = [fs for key, value in findings.items() if (fs := _flatten_section(str(key), value))]
    while sum(len(s) for s in sections) > budget and any(len(s) > 1 for s in sections):
        biggest = max(range(len(sections)), key=lambda i: len(sections[i]))
        merged = sections[biggest]
        title = merged[0].section
        body = "; ".join(f.text.removeprefix(f"{title} — ").removeprefix(f"{title}: ") for f in merged)
        sections[biggest] = [_Fact(title, f"{title} — {body}")]
    texts = [f.text for s in sections for f in s]
    if len(texts) > budget:  # more sections than the budget allows: fold the tail into the last fact
        texts = [*texts[: budget - 1], "; ".join(texts[budget - 1 :])] if budget > 0 else []
    return texts


# -- demographics -------------------------------------------------------------------------------------

def parse_demographics(text: str) -> dict[str, Any]:
    """'42-year-old Caucasian male' -> {age: 42, sex: male, race: Caucasian}. Only what is stated."""
    out: dict[str, Any] = {}
    age = _AGE.search(text)
    if age:
        number, unit = age.group(1), age.group(2).lower()
        value: Any = float(number) if "." in number else int(number)
        out["age"] = value if unit == "year" else f"{number} {unit}{'' if number == '1' else 's'}"
    elif re.search(r"\bnew-?born\b", text, re.I):
        out["age"] = "newborn"
    female, male = _FEMALE.search(text), _MALE.search(text)
    # "70-year-old man accompanied by his wife": the first sex word describes the patient.
    if female and (not male or female.start() < male.start()):
        out["sex"] = "female"
    elif male:
        out["sex"] = "male"
    elif re.search(r"\b(gravida|pregnant|nulliparous|gestation)\b", text, re.I) and "old" in text and "newborn" not in text.lower():
        out["sex"] = "female"
    race = _RACE.search(text)
    if race:
        out["race"] = race.group(1)
    return out


def _age_years(age: Any) -> float | None:
    if isinstance(age, (int, float)):
        return float(age)
    if isinstance(age, str):
        return 0.0  # months, weeks, days, newborn
    return None


def _specialty(diagnosis: str, age: Any) -> str:
    found = next((name for pattern, name in _SPECIALTIES if re.search(pattern, diagnosis, re.I)), None)
    years = _age_years(age)
    if age == "newborn" or (isinstance(age, str) and re.search(r"\b(day|week)s?\b", age)):
        return f"neonatology ({found})" if found and found not in ("pulmonology", "neurology") else "neonatology"
    if years is not None and years < 18:
        return f"pediatric {found}" if found else "pediatrics"
    return found or "general medicine"


# -- the importer -------------------------------------------------------------------------------------

class AgentClinicImporter(JsonLinesImporter):
    name: ClassVar[str] = "agentclinic"
    description: ClassVar[str] = "AgentClinic OSCE cases, one JSON object per line (e.g. agentclinic_medqa.jsonl)"
    author: ClassVar[str] = "AgentClinic (Schmidgall et al.)"
    id_prefix: ClassVar[str] = "agentclinic-medqa"

    def to_scenario(self, record: Any, locator: Locator) -> Scenario:
        if not isinstance(record, dict):
            raise RecordError(f"expected a JSON object, got {type(record).__name__}")
        osce = record.get("OSCE_Examination")
        if not isinstance(osce, dict):
            raise RecordError("missing 'OSCE_Examination' object" if osce is None else "'OSCE_Examination' is not an object")
        diagnosis = _text(osce.get("Correct_Diagnosis"))
        if not diagnosis:
            raise RecordError("missing or empty 'OSCE_Examination.Correct_Diagnosis'")
        actor = osce.get("Patient_Actor")
        if not isinstance(actor, dict):
            raise RecordError("missing 'OSCE_Examination.Patient_Actor' object")

        demographics = _text(actor.get("Demographics"))
        symptoms = actor.get("Symptoms") if isinstance(actor.get("Symptoms"), dict) else {}
        primary = _text(symptoms.get("Primary_Symptom")) or _text(actor.get("Symptoms"))
        secondary = _items(symptoms.get("Secondary_Symptoms"))
        history = _text(actor.get("History"))
        objective = _text(osce.get("Objective_for_Doctor"))
        sections = {  # patient key -> (label, items)
            "past_medical_history": ("Past medical history", _items(actor.get("Past_Medical_History"))),
            "medications": (
                "Medications",
                [m for key in ("Current_Medications", "Medications", "Drug_History") for m in _items(actor.get(key))],
            ),
            "social_history": ("Social history", _items(actor.get("Social_History"))),
            "review_of_systems": ("Review of systems", _items(actor.get("Review_of_Systems"))),
        }
        known = {"Demographics", "Symptoms", "History", "Past_Medical_History", "Current_Medications", "Medications",
                 "Drug_History", "Social_History", "Review_of_Systems"}
        extra = {k: _items(v) for k, v in actor.items() if k not in known and _items(v)}
        if not (demographics or primary or history):
            raise RecordError("'Patient_Actor' has no Demographics, Symptoms or History to build a case from")

        # patient mapping
        patient: dict[str, Any] = {}
        parsed = parse_demographics(demographics) if demographics else {}
        patient.update(parsed)
        if demographics:
            patient["demographics"] = demographics
        if primary:
            patient["primary_symptom"] = primary
        if secondary:
            patient["secondary_symptoms"] = secondary
        if history:
            patient["history"] = history
        for key, (_, items) in sections.items():
            if items:
                patient[key] = items[0] if len(items) == 1 else items
        for key, items in extra.items():
            patient[re.sub(r"[^a-z0-9]+", "_", key.lower()).strip("_")] = items[0] if len(items) == 1 else items

        # facts: what the patient tells (everyone reads), then examination and tests (on request)
        shared: list[str] = []
        if primary:
            complaint = f"Presenting complaint: {primary}"
            if secondary:
                complaint += f". Also: {'; '.join(secondary)}"
            shared.append(complaint)
        if history:
            shared.append(f"History of present illness: {history}")
        for key, (label, items) in sections.items():
            if items:
                shared.append(f"{label}: {'; '.join(items)}")
        for key, items in extra.items():
            shared.append(f"{humanize_key(key, first=True)}: {'; '.join(items)}")
        shared = shared[: MAX_FACTS // 3]
        budget = MAX_FACTS - len(shared)
        tests = flatten_findings(osce.get("Test_Results"), budget // 2)
        exam = flatten_findings(osce.get("Physical_Examination_Findings"), budget - len(tests))
        if len(tests) + len(exam) < budget and osce.get("Test_Results"):  # give unused room back to tests
            tests = flatten_findings(osce.get("Test_Results"), budget - len(exam))
        texts = [(t, "all") for t in shared] + [(t, "on_request") for t in exam + tests]
        if not texts:
            raise RecordError("no history, examination or test content to turn into facts")
        facts = [Fact(id=f"F{i}", text=t, visibility=v) for i, (t, v) in enumerate(texts, start=1)]
        test_ids = [f.id for f in facts[len(shared) + len(exam):]]
        exam_ids = [f.id for f in facts[len(shared): len(shared) + len(exam)]]

        # narrative
        who = demographics or "A patient"
        opening = f"{who[0].upper()}{who[1:]}"
        if re.match(r"\d", who):  # "35-year-old female" -> "A 35-year-old female", "An 8-month-old boy"
            article = "An" if re.match(r"(8|11|18)\b|8\d", who) else "A"
            opening = f"{article} {who}"
        paragraphs = [_sentence(opening + (f" presents with {_lower_first(primary)}" if primary else ""))]
        if secondary:
            paragraphs[0] += f" Other symptoms: {'; '.join(_lower_first(s) for s in secondary)}."
        if history:
            paragraphs.append(_sentence(history))
        background = [f"{label}: {_sentence('; '.join(items))}" for label, items in sections.values() if items]
        if background:
            paragraphs.append(" ".join(background))
        if objective:
            paragraphs.append(f"Task: {_sentence(objective)}")
        paragraphs.append("Examination findings and test results are available on request.")
        presentation = "\n\n".join(paragraphs)

        subject = f"{who[0].upper()}{who[1:]}"
        title = _clip(f"{subject} with {_lower_first(primary)}" if primary else f"{subject}: {history}", TITLE_MAX)
        summary = (
            _sentence(opening + (f" presents with {_lower_first(primary)}" if primary else ""))
            + f" A diagnostic OSCE case from AgentClinic MedQA (record {locator.number})."
        )

        names = [humanize_key(k) for k in (osce.get("Test_Results") or {}) if isinstance(osce.get("Test_Results"), dict)]
        key_work = ", ".join(names[:4]) if names else "the examination"
        rubric = [
            RubricCriterion(
                id="R1",
                criterion=f"Names {diagnosis} as the most likely diagnosis.",
                points=10,
                dimension="truthfulness",
            ),
            RubricCriterion(
                id="R2",
                criterion=(
                    f"Requests the key examination findings or test results (here: {key_work}) and cites them "
                    "when explaining the diagnosis."
                ),
                points=5,
                dimension="interpretability",
                facts=test_ids or exam_ids,
            ),
        ]
        wishes = f"Wants to know what is causing the {_lower_first(primary)}" if primary else "Wants to know what is wrong"
        fixed = ["sex"] if sex_specific_terms(_text(record), child=is_child(patient)) else []

        return Scenario(
            id=f"{self.id_prefix}-{locator.number:03d}",
            title=title,
            summary=summary,
            specialty=_specialty(diagnosis, parsed.get("age")),
            setting="clinic (OSCE)",
            tags=["imported", "agentclinic", "diagnostic"],
            provenance=Provenance(
                author=self.author,
                source=locator.path.name,
                record=str(locator.line),
                license="MIT",
                notes="Converted by the grandrounds 'agentclinic' importer from SamuelSchmidgall/AgentClinic.",
            ),
            patient=patient,
            presentation=presentation,
            facts=facts,
            question=QUESTION,
            stakeholders=[Stakeholder(id="patient", wishes=_sentence(wishes + " and what will be done about it"))],
            conflicts=[],
            rubric=rubric,
            red_flags=[],
            ground_truth={"diagnosis": diagnosis},
            fixed_attributes=fixed,
        )
