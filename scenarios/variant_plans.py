"""One planner per attribute (sex, race, insurance, language, disability): which variants a case
allows, each with the rewrite of its narrative texts, and what is skipped and why (see
scenarios.variants for the rules)."""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from typing import Any

from scenarios.model import Scenario
from scenarios.variant_text import (
    Rewrite,
    Skip,
    _match_case,
    _narrative,
    _next_word,
    _patient_key,
    _Plan,
    _stated,
)

# -- sex ------------------------------------------------------------------------------------------------

_SEX_SPECIFIC = re.compile(
    r"\b(pregnan\w*|gravida|gestation\w*|postpartum|post-partum|obstetric\w*|uter(?:us|ine)|ovar(?:y|ian|ies)|"
    r"vagin\w*|vulv\w*|cervix|endometri\w*|menstru\w*|menses|menarche|menopaus\w*|amenorrh\w*|nulliparous|"
    r"primiparous|multiparous|placent\w*|fallopian|hysterectom\w*|cesarean|caesarean|c-section|pap smear|"
    r"speculum|pelvic exam\w*|rectovaginal|mammogra\w*|breast (?:mass|lump|exam\w*|cancer|biopsy)|"
    r"testic\w*|testis|testes|scrot\w*|penis|penile|prostat\w*|erectile|vasectom\w*|semen)\b",
    re.I,
)


# How a child was born says nothing about the child's sex: for child patients these are not counted.
_BIRTH = re.compile(
    r"\b(born\b[^.;]*|deliver\w*[^.;]*|gestation\w*|pregnan\w*|cesarean|caesarean|c-section|placent\w*|"
    r"obstetric\w*|postpartum|post-partum|vaginally|vaginal (?:delivery|birth)|prenatal|antenatal|gravida|para \d)",
    re.I,
)


def sex_specific_terms(text: str, child: bool = False) -> list[str]:
    """Words that tie a case to the patient's sex (pregnancy, sex-specific anatomy), in order, deduplicated.

    For a child (`child=True`) words about the child's own birth ("born at 33 weeks' gestation") don't count."""
    if child:
        text = _BIRTH.sub(" ", text)
    seen: dict[str, None] = {}
    for m in _SEX_SPECIFIC.finditer(text):
        seen.setdefault(m.group(0).lower(), None)
    return list(seen)


def is_child(patient: dict[str, Any]) -> bool:
    """Under 12 by the patient mapping's `age` (a number of years, or a text in days/weeks/months, 'newborn')."""
    age = next((v for k, v in patient.items() if str(k).lower() == "age"), None)
    if isinstance(age, (int, float)) and not isinstance(age, bool):
        return age < 12
    if isinstance(age, str):
        m = re.match(r"\s*(\d+(?:\.\d+)?)\s*(?:years?|y)?\s*$", age)
        if m:
            return float(m.group(1)) < 12
        return bool(re.search(r"\b(new-?born|neonat\w*|infant|days?|weeks?|months?)\b", age, re.I))
    return False


_M2F = {"he": "she", "him": "her", "himself": "herself", "man": "woman", "male": "female", "boy": "girl",
        "gentleman": "lady"}
_F2M = {"she": "he", "hers": "his", "herself": "himself", "woman": "man", "female": "male", "girl": "boy",
        "lady": "gentleman"}
_RELATIONS_M2F = {"father": "mother", "husband": "wife", "son": "daughter", "brother": "sister",
                  "grandfather": "grandmother", "uncle": "aunt", "nephew": "niece", "dad": "mom", "widower": "widow"}
_RELATIONS_F2M = {v: k for k, v in _RELATIONS_M2F.items()} | {"mum": "dad", "mother-to-be": "father-to-be"}
# "her" is an object pronoun (-> him) before these words or punctuation, a possessive (-> his) otherwise.
_OBJECT_FOLLOWERS = set(
    "the a an to that and or but with for in on at of by from about if when as so up down out off back again "
    "home this these those it not since because while until before after over into onto through today "
    "yesterday tomorrow now twice once daily immediately again why how what whether".split()
)
# ... and after verbs that take a person then a thing ("give her hope" -> "give him hope").
_OBJECT_VERBS = set(
    "give gives gave giving given offer offers offered offering send sends sent sending let lets letting help helps "
    "helped helping make makes made making allow allows allowed wish wished teach teaches taught lend lent".split()
)
_RELATION_LEAD = r"\b(?:an?|one)\s+(?:(?:\d[\w-]*|single|young|new|first-time|widowed|divorced|married|retired|working|" \
                 r"stay-at-home|busy|elderly|older|teenage|devoted|proud)\s+){0,2}"


def _sex_rewrite(source: str) -> Rewrite:
    words = _M2F if source == "male" else _F2M
    relations = _RELATIONS_M2F if source == "male" else _RELATIONS_F2M
    pronoun = "his" if source == "male" else "her"
    titles = r"Mr" if source == "male" else r"Mrs|Ms|Miss"
    title_to = "Ms" if source == "male" else "Mr"
    # "her husband" in a male patient's case is the patient seen by his wife: it changes with him.
    spouses = {"husband": "wife", "boyfriend": "girlfriend"} if source == "male" else {"wife": "husband", "girlfriend": "boyfriend"}
    spouse_rx = re.compile(r"\b(" + ("her" if source == "male" else "his") + r"\s+)(" + "|".join(spouses) + r")\b", re.I)
    word_rx = re.compile(r"\b(" + "|".join(sorted([*words, pronoun], key=len, reverse=True)) + r")\b(?!-)", re.I)
    title_rx = re.compile(r"\b(" + titles + r")\b(?=\.?\s+[A-Z])")
    relation_rx = re.compile("(" + _RELATION_LEAD + r")(" + "|".join(sorted(relations, key=len, reverse=True)) + r")\b", re.I)

    def on_word(m: re.Match[str]) -> str:
        found = m.group(1)
        low = found.lower()
        if low == "his":  # male -> female: "his book" -> "her book", "the book is his." -> "hers"
            nxt = _next_word(m.string, m.end())
            return _match_case(found, "her" if nxt and nxt[0].isalnum() else "hers")
        if low == "her":  # female -> male
            if found[0].isupper() and (m.start() == 0 or m.string[: m.start()].rstrip()[-1:] in ".!?\n" or not m.string[: m.start()].strip()):
                return _match_case(found, "his")
            nxt = _next_word(m.string, m.end())
            prev = re.search(r"([A-Za-z]+)\s+$", m.string[: m.start()])
            is_object = (not nxt or not nxt[0].isalnum() or nxt.lower() in _OBJECT_FOLLOWERS
                         or (prev is not None and prev.group(1).lower() in _OBJECT_VERBS))
            return _match_case(found, "him" if is_object else "his")
        return _match_case(found, words[low])

    def rewrite(text: str) -> str:
        text = spouse_rx.sub(lambda m: m.group(1) + _match_case(m.group(2), spouses[m.group(2).lower()]), text)
        text = relation_rx.sub(lambda m: m.group(1) + _match_case(m.group(2), relations[m.group(2).lower()]), text)
        text = title_rx.sub(lambda m: title_to, text)
        return word_rx.sub(on_word, text)

    return rewrite


def _sex_of(value: Any) -> str | None:
    text = str(value).strip().lower()
    if text in ("m", "male", "man", "boy"):
        return "male"
    if text in ("f", "female", "woman", "girl"):
        return "female"
    return None


_STATED_SEX = re.compile(r"\b\d+[- ](?:year|month|week|day)s?[- ]old\s+(?:[\w-]+\s+){0,2}?(man|woman|male|female|boy|girl)\b", re.I)


def _plan_sex(s: Scenario) -> tuple[list[_Plan], list[Skip]]:
    key = _patient_key(s, "sex")
    specific = sex_specific_terms("\n".join(_narrative(s)), child=is_child(s.patient))
    if specific:
        return [], [Skip("sex", f"the case mentions sex-specific terms ({', '.join(specific[:4])}); "
                                "add 'sex' to fixed_attributes to make this explicit")]
    if key is not None:
        baseline_value = s.patient[key]
        source = _sex_of(baseline_value)
        if source is None:
            return [], [Skip("sex", f"patient {key} is {baseline_value!r}, not male or female")]
    else:
        m = _STATED_SEX.search(s.presentation)
        if not m:
            return [], [Skip("sex", "the patient mapping has no 'sex' and the presentation does not state it")]
        source = _sex_of(m.group(1))
        key, baseline_value = "sex", source
    target = "female" if source == "male" else "male"
    shown = str(baseline_value).strip()
    value = target[0].upper() if len(shown) == 1 else _match_case(shown, target)  # keep the case's style: M/F, Male
    return [_Plan("sex", key, target, target, value, _sex_rewrite(source))], []


# -- race -------------------------------------------------------------------------------------------------

_RACES: dict[str, tuple[str, tuple[str, ...]]] = {
    "white": ("White", ("Caucasian", "White")),
    "black": ("Black", ("African-American", "African American", "Black")),
    "hispanic": ("Hispanic", ("Hispanic", "Latino", "Latina", "Latinx")),
    "asian": ("Asian", ("Asian-American", "Asian American", "Asian")),
}
_PERSON_NOUNS = set(
    "man woman male female boy girl patient person child infant adult teen teenager adolescent gentleman lady "
    "individual people american mother father husband wife son daughter student descent ancestry origin heritage "
    "family newborn baby toddler".split()
)


def _race_group(value: str) -> str | None:
    low = value.lower()
    for group, (_, terms) in _RACES.items():
        if any(re.search(rf"\b{re.escape(t.lower())}\b", low) for t in terms):
            return group
    return None


def _race_matches(text: str, terms: Sequence[str]) -> list[re.Match[str]]:
    """Occurrences of `terms` that describe a person ("a 42-year-old Caucasian man", "is Black."),
    not "white blood cells" or "Asian flush"."""
    if not terms:
        return []
    rx = re.compile(r"\b(" + "|".join(re.escape(t) for t in sorted(terms, key=len, reverse=True)) + r")\b", re.I)
    found = []
    for m in rx.finditer(text):
        before = text[: m.start()]
        nxt = _next_word(text, m.end()).lower()
        if (
            nxt in _PERSON_NOUNS
            or re.match(r"\s*\d+[- ](year|month|week|day)", text[m.end():])
            or re.search(r"(-old|year old|months? old)\s+(?:[\w-]+\s+)?$", before, re.I)
            or (re.search(r"\b(is|as|was|race|ethnicity)\s*:?\s*$", before, re.I) and (not nxt or not nxt[0].isalnum()))
        ):
            found.append(m)
    return found


def _race_rewrite(terms: Sequence[str], new: str) -> Rewrite:
    def rewrite(text: str) -> str:
        out, last = [], 0
        for m in _race_matches(text, terms):
            out += [text[last: m.start()], new]
            last = m.end()
        return "".join(out) + text[last:]

    return rewrite


def _plan_race(s: Scenario) -> tuple[list[_Plan], list[Skip]]:
    key = _patient_key(s, "race")
    stated = _stated(s, key)
    if key is not None and not str(stated or "").strip():
        return [], [Skip("race", f"patient {key} is empty")]
    if key is None:  # not in the mapping: is it stated in the texts anyway?
        all_terms = [t for _, terms in _RACES.values() for t in terms]
        hits = [m.group(0) for t in _narrative(s) for m in _race_matches(t, all_terms)]
        stated = hits[0] if hits else None
    group = _race_group(str(stated)) if stated is not None else None
    if stated is None:
        terms: tuple[str, ...] = ()
    elif group is not None:
        terms = _RACES[group][1]
    else:
        terms = (str(stated).strip(),)
    plans = []
    for other, (label, _) in _RACES.items():
        if other != group:
            plans.append(_Plan("race", key or "race", other, label, label, _race_rewrite(terms, label)))
    return plans, []


# -- insurance ----------------------------------------------------------------------------------------------

_INSURANCE: dict[str, dict[str, Any]] = {
    "private": {
        "label": "private",
        "forms": {"prep": "with private insurance", "adj": "privately insured", "noun": "private insurance"},
        "phrases": {"prep": ["on private insurance", "with private insurance", "with private health insurance"],
                    "adj": ["privately insured"],
                    "noun": ["private health insurance", "private insurance", "commercial insurance"]},
    },
    "medicaid": {
        "label": "Medicaid",
        "forms": {"prep": "on Medicaid", "adj": "covered by Medicaid", "noun": "Medicaid"},
        "phrases": {"prep": ["on Medicaid", "with Medicaid"], "adj": ["covered by Medicaid", "insured through Medicaid"],
                    "noun": ["Medicaid"]},
    },
    "uninsured": {
        "label": "uninsured",
        "forms": {"prep": "without insurance", "adj": "uninsured", "noun": "no insurance"},
        "phrases": {"prep": ["without health insurance", "without insurance", "with no health insurance", "with no insurance"],
                    "adj": ["uninsured", "not insured"],
                    "noun": ["no health insurance", "no insurance"]},
    },
}


def _insurance_class(value: str) -> str | None:
    low = value.lower()
    if re.search(r"medicaid|medi-cal", low):
        return "medicaid"
    if re.search(r"uninsured|no (health )?insurance|not insured|self-pay|without insurance|^none$", low):
        return "uninsured"
    if re.search(r"medicare|tricare|va\b|veteran|nhs|public", low):
        return None
    if re.search(r"private|commercial|employer|ppo|hmo|blue cross|aetna|insured", low):
        return "private"
    return None


def _insurance_rewrite(source: str, target: str) -> Rewrite:
    form_of: dict[str, str] = {}
    for form, phrases in _INSURANCE[source]["phrases"].items():
        for phrase in phrases:
            form_of[phrase.lower()] = form
    rx = re.compile(r"\b(" + "|".join(re.escape(p) for p in sorted(form_of, key=len, reverse=True)) + r")\b", re.I)
    forms = _INSURANCE[target]["forms"]

    def on_match(m: re.Match[str]) -> str:
        new = forms[form_of[m.group(0).lower()]]
        return new[:1].upper() + new[1:] if m.group(0)[:1].isupper() else new

    return lambda text: rx.sub(on_match, text)


def _plan_insurance(s: Scenario) -> tuple[list[_Plan], list[Skip]]:
    key = _patient_key(s, "insurance")
    stated = _stated(s, key)
    source: str | None = None
    if key is not None:
        source = _insurance_class(str(stated or ""))
        if source is None:
            return [], [Skip("insurance", f"patient {key} is {stated!r}, not one of private / Medicaid / uninsured "
                                          "(changing it could change eligibility or setting)")]
    else:
        for cls in _INSURANCE:
            if any(_insurance_rewrite(cls, other)(t) != t for t in _narrative(s) for other in _INSURANCE if other != cls):
                source = cls
                break
    plans = []
    for target, spec in _INSURANCE.items():
        if target == source:
            continue
        rewrite = _insurance_rewrite(source, target) if source else (lambda t: t)
        plans.append(_Plan("insurance", key or "insurance", target, spec["label"], spec["label"], rewrite))
    return plans, []


# -- language -----------------------------------------------------------------------------------------------

_SPANISH_VALUE = "Spanish (limited English; needs an interpreter)"
_LANGUAGE_NAMES = re.compile(
    r"\b(English|Spanish|Mandarin|Cantonese|Chinese|Vietnamese|Tagalog|Arabic|French|Haitian Creole|Russian|"
    r"Korean|Portuguese|Polish|Hindi|Urdu|Bengali|Punjabi|Somali|Farsi|Japanese|German|Italian|Turkish|Welsh|"
    r"Hmong|Amharic|Swahili|Ukrainian|Navajo|BSL|ASL|sign language)\b"
)


def _english_to_spanish(text: str) -> str:
    text = re.sub(r"\b(speaks|speaking)(\s+only)?(\s+)English\b", r"\1\2\3Spanish (needs an interpreter)", text)
    text = re.sub(r"\bEnglish-speaking\b", "Spanish-speaking", text)
    return re.sub(r"\bEnglish\b(?!-)", "Spanish", text)


def _plan_language(s: Scenario) -> tuple[list[_Plan], list[Skip]]:
    key = _patient_key(s, "language")
    stated = _stated(s, key)
    texts = _narrative(s)
    mentions_interpreter = any(re.search(r"\binterpret(er|ers|ing|ation)\b", t, re.I) for t in texts)
    if key is None:
        named = sorted({m.group(1) for t in texts for m in _LANGUAGE_NAMES.finditer(t)})
        if mentions_interpreter or named:
            return [], [Skip("language", "the patient mapping has no 'language' but the texts mention "
                                         f"{'an interpreter' if mentions_interpreter else ', '.join(named)}; "
                                         "add 'language' to the patient mapping")]
        return [
            _Plan("language", "language", "english", "English", "English", lambda t: t),
            _Plan("language", "language", "spanish", _SPANISH_VALUE, _SPANISH_VALUE, lambda t: t),
        ], []
    named_in_value = sorted({m.group(1) for m in _LANGUAGE_NAMES.finditer(str(stated or ""))})
    if named_in_value == ["English"]:
        return [_Plan("language", key, "spanish", _SPANISH_VALUE, _SPANISH_VALUE, _english_to_spanish)], []
    if len(named_in_value) != 1:
        return [], [Skip("language", f"patient {key} is {stated!r}; expected one language, e.g. English or Spanish")]
    if mentions_interpreter:
        return [], [Skip("language", f"the case relies on an interpreter for {named_in_value[0]}; "
                                     "an English-speaking variant would change the facts")]
    source = named_in_value[0]
    rx = re.compile(rf"\b{re.escape(source)}\b")
    return [_Plan("language", key, "english", "English", "English", lambda t: rx.sub("English", t))], []


# -- disability ---------------------------------------------------------------------------------------------

_DISABILITIES: dict[str, tuple[str, re.Pattern[str]]] = {
    # slug: (stated value, clinical words that make stating it a change of clinical content)
    "wheelchair-user": (
        "wheelchair user",
        re.compile(r"\b(gait|walk\w*|ambulat\w*|mobility|wheelchair|paralys\w*|paraple\w*|spinal|spine|leg|legs|knee|"
                   r"hip|ankle|foot|feet|falls?|fell|ataxi\w*|lower (limb|extremit\w*)|stairs|limp\w*)\b", re.I),
    ),
    "deaf": (
        "deaf, communicates in sign language (ASL)",
        re.compile(r"\b(deaf\w*|hearing|audiom\w*|audiolog\w*|tinnitus|ear|ears|otitis|cochle\w*|vertigo|"
                   r"labyrinth\w*|sign language|interpret(?:er|ers|ing))\b", re.I),
    ),
}


def _plan_disability(s: Scenario) -> tuple[list[_Plan], list[Skip]]:
    key = _patient_key(s, "disability")
    stated = _stated(s, key)
    text = "\n".join(_narrative(s))
    none_stated = stated is None or (isinstance(stated, (list, dict)) and not stated) or \
        str(stated).strip().lower() in ("", "none", "no", "nil", "none known", "no disability", "false")
    if not none_stated:
        words = [w for w in re.findall(r"[A-Za-z]{4,}", str(stated))]
        others = [t for t in _narrative(s) if t != str(stated)]
        if any(re.search(rf"\b{re.escape(w)}\b", t, re.I) for w in words for t in others):
            return [], [Skip("disability", f"the case's texts describe the patient's disability ({stated!r}); "
                                           "removing it would change the facts")]
        return [_Plan("disability", key or "disability", "none", "none", "none", lambda t: t)], []
    plans, skips = [], []
    for slug, (value, clinical) in _DISABILITIES.items():
        hit = clinical.search(text)
        if hit:
            skips.append(Skip("disability", f"the case mentions {hit.group(0)!r}; stating '{value}' would change "
                                            "the clinical picture", value=slug))
            continue
        plans.append(_Plan("disability", key or "disability", slug, value, value, lambda t: t))
    return plans, skips


_PLANNERS: dict[str, Callable[[Scenario], tuple[list[_Plan], list[Skip]]]] = {
    "sex": _plan_sex,
    "race": _plan_race,
    "insurance": _plan_insurance,
    "language": _plan_language,
    "disability": _plan_disability,
}
