"""What each trajectory event does to the latent state, as data.

Each effect moves one target by ``delta × p**power`` where ``p = severity × progress`` and progress
rises linearly from 0 at onset to 1 after ``ramp_h`` (and, for transient events, falls back to 0
by ``duration_h``). ``power`` > 1 makes a late sign (hypotension in sepsis), < 1 an early one
(fever, tachypnoea). ``lag_h`` delays a target (Hgb after a bleed, creatinine after an injury).

Deltas are simulator defaults chosen so that a normal baseline at severity 1 reaches the late
phase described in clinical-reference §4 (tables marked [C] there). Targets are vital keys, lab
keys, ``spo2_deficit`` (SpO2 points lost before oxygen titration), ``consciousness`` (0 = usual
self, 0.35 new confusion, 0.6 voice, 0.8 pain, 0.95 unresponsive) and ``urine`` (fractional fall).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

__all__ = ["COURSES", "Course", "Effect"]


@dataclass(frozen=True, slots=True)
class Effect:
    target: str
    delta: float
    power: float = 1.0
    lag_h: float = 0.0


@dataclass(frozen=True, slots=True)
class Course:
    ramp_h: tuple[float, float]
    duration_h: tuple[float, float] | None
    effects: tuple[Effect, ...]
    ref: str
    fever: bool = False  # has a temperature rise that masking modifiers act on
    #: Transient only: the effect fades linearly from the end of the ramp until duration_h (a
    #: saw-tooth), instead of within one ramp time just before duration_h.
    gradual_return: bool = False


E = Effect

COURSES: Final[dict[str, Course]] = {
    # §4.1: early RR 20→24, HR 90→110, fever; SBP falls late; shock +24–48 h with lactate > 4, V/P.
    "sepsis": Course(
        (30.0, 42.0),
        None,
        (
            E("rr", 15, 0.8), E("hr", 50, 1.0), E("temp", 2.0, 0.5), E("sbp", -45, 2.0), E("dbp", -25, 2.0),
            E("spo2_deficit", 7, 1.5), E("lactate", 4.5, 1.5), E("wbc", 9, 0.7), E("crp", 150, 0.7),
            E("creatinine", 0.7, 2.0), E("platelets", -90, 2.0), E("consciousness", 0.9, 2.5), E("urine", 0.7, 1.5),
        ),
        "§4.1",
        fever=True,
    ),
    # §4.2 ATLS classes: HR 100–120 (II) → >140 (IV); SBP falls from class III; Hgb lags; BUN rises (GI).
    "haemorrhage": Course(
        (8.0, 16.0),
        None,
        (
            E("hr", 65, 1.0), E("sbp", -55, 2.5), E("dbp", -25, 2.0), E("rr", 18, 1.2), E("hgb", -4.5, 1.0, 3.0),
            E("bun", 25, 1.0, 2.0), E("urine", 0.9, 1.5), E("consciousness", 0.8, 3.0), E("lactate", 3.5, 2.0),
        ),
        "§4.2",
    ),
    # §4.3: RR 20→28+, SpO2 96→90 then rising O2 need, HR 100–120, temp 38–39.5, WBC/CRP up.
    "respiratory-failure": Course(
        (24.0, 48.0),
        None,
        (
            E("rr", 14, 1.0), E("spo2_deficit", 16, 1.0), E("hr", 32, 1.0), E("temp", 1.6, 0.5), E("wbc", 8, 0.7),
            E("crp", 120, 0.7), E("consciousness", 0.6, 3.0), E("lactate", 1.5, 2.0),
        ),
        "§4.3",
        fever=True,
    ),
    # §4.4: sedation first, then RR 10→8→6, SpO2 falls late (masked by O2), HR/BP may fall.
    "opioid-oversedation": Course(
        (2.0, 4.0),
        None,
        (
            E("consciousness", 1.0, 0.6), E("rr", -11, 1.5), E("spo2_deficit", 12, 2.5), E("hr", -14, 2.0),
            E("sbp", -22, 2.0), E("dbp", -10, 2.0),
        ),
        "§4.4",
    ),
    # §4.6: creatinine lags injury; K and BUN rise; urine falls; vitals may stay normal.
    "acute-kidney-injury": Course(
        (36.0, 60.0),
        None,
        (
            E("creatinine", 2.2, 1.0, 12.0), E("potassium", 1.6, 1.5, 6.0), E("bun", 40, 1.0, 6.0),
            E("bicarbonate", -6, 1.5, 6.0), E("urine", 0.8, 0.8),
        ),
        "§4.6",
    ),
    # §4.7: K climbs; vitals normal until late bradycardia.
    "hyperkalaemia": Course(
        (18.0, 30.0),
        None,
        (E("potassium", 3.2, 1.0), E("hr", -38, 4.0), E("sbp", -25, 4.0)),
        "§4.7",
    ),
    # §4.9: RR 22–28, SpO2 96→90, HR 95–120, SBP often high, NT-proBNP up, Na down, creatinine up.
    "heart-failure-exacerbation": Course(
        (48.0, 96.0),
        None,
        (
            E("rr", 11, 1.0), E("spo2_deficit", 9, 1.0), E("hr", 28, 1.0), E("sbp", 20, 1.0), E("dbp", 10, 1.0),
            E("ntprobnp", 4000, 1.0), E("sodium", -5, 1.0), E("creatinine", 0.5, 1.5), E("consciousness", 0.4, 3.0),
        ),
        "§4.9",
    ),
    # §4.5: abrupt HR 100–130, RR 24–30, SpO2 −3…−8, SBP normal (sub-massive) or < 90 (massive).
    "pulmonary-embolism": Course(
        (0.5, 2.0),
        None,
        (
            E("hr", 38, 1.0), E("rr", 12, 1.0), E("spo2_deficit", 8, 1.0), E("temp", 0.5, 1.0), E("sbp", -50, 3.0),
            E("dbp", -25, 3.0), E("ddimer", 4.0, 0.3), E("consciousness", 0.6, 3.0), E("lactate", 3.0, 3.0),
        ),
        "§4.5",
        fever=True,
    ),
    # §4.8 [S35]: glucose > 250, pH < 7.30, HCO3 ≤ 18; at full effect pH ~7.05 and HCO3 ~10 from a
    # normal baseline (moderate DKA: pH 7.00–7.24, HCO3 10–15). pH falls later than HCO3 (power 1.5:
    # at HCO3 18 the pH has just reached ~7.29, mild DKA). Vitals [C]: Kussmaul RR 24–35, HR 100–130,
    # SBP normal → low with dehydration (late), temperature normal; K normal or high.
    "dka": Course(
        (12.0, 36.0),
        None,
        (
            E("glucose", 380, 0.7), E("bicarbonate", -15, 1.0), E("ph", -0.35, 1.5), E("rr", 15, 1.0),
            E("hr", 45, 1.0), E("sbp", -35, 2.0), E("dbp", -15, 2.0), E("potassium", 1.0, 1.0),
        ),
        "§4.8",
    ),
    # §3: post-op day 0–2 temp 37.8–38.4, CRP/WBC raised, resolves in 24–48 h.
    "post-op-inflammation": Course(
        (4.0, 8.0),
        (36.0, 60.0),
        (E("temp", 1.3, 1.0), E("hr", 9, 1.0), E("wbc", 4.5, 1.0), E("crp", 70, 1.0)),
        "§3",
        fever=True,
    ),
    # §3: pain/anxiety HR 90–110, RR 20–24, SBP +10–20; settles 30–60 min after analgesia.
    "pain-anxiety": Course(
        (0.25, 0.5),
        (1.5, 2.5),
        (E("hr", 22, 1.0), E("rr", 6, 1.0), E("sbp", 16, 1.0), E("dbp", 8, 1.0)),
        "§3",
    ),
    # §3 [S28, S29]: WBC rises within hours, peak ~48 h, mean rise ~4 ×10³/µL.
    "steroid-leukocytosis": Course((24.0, 48.0), None, (E("wbc", 4.5, 1.0),), "§3"),
    # §3 (CKD 4–5 / ESRD on haemodialysis): the saw-tooth. Creatinine, BUN and K fall during a session
    # (the ramp) and climb back to the usual pre-dialysis level by the next one (duration_h). The
    # reference gives the pattern only: the falls (from pre-dialysis creatinine 6–12, BUN 40–80,
    # K up to ~6.0), the session length and the interval are simulator design choices.
    "dialysis": Course(
        (3.0, 5.0),
        (44.0, 72.0),
        (E("creatinine", -4.5, 1.0), E("bun", -35, 1.0), E("potassium", -1.0, 1.0)),
        "§3",
        gradual_return=True,
    ),
}
