"""Per-seed draws: which patient, which baseline, when things happen.

Every seed gets a `numpy.random.SeedSequence([seed, scenario-key])` split into independent child
streams (parameters, latent noise, measurement noise), so adding a draw to one stream never
shifts the others, and the same (scenario id, seed) always gives the same variant.
"""

from __future__ import annotations

import functools
import hashlib
from dataclasses import dataclass, field

import numpy as np

from .schema import Artifact, LabDraw, Scenario
from .trajectories import COURSES
from .vocab import FEMALE_LABS, LAB_KEYS, LABS, VITAL_KEYS, VITALS, Measure

__all__ = ["APPENDED_LABS", "EventDraw", "Streams", "Variant", "draw_variant", "lab_measure", "streams"]

#: Labs added to the vocabulary after cases were first stored (at the end of LAB_KEYS). Their usual
#: values are drawn after every other parameter, so the draws of existing scenarios, and therefore
#: their cases, stay exactly what they were.
APPENDED_LABS: tuple[str, ...] = ("ph",)

_GIVEN = {
    "female": ("Ada", "Beatrix", "Carys", "Delphine", "Edith", "Freya", "Greta", "Hazel", "Ines", "Joan",
               "Kit", "Leonie", "Maud", "Nell", "Orla", "Pearl", "Rosa", "Sian", "Tilde", "Vera"),
    "male": ("Albert", "Basil", "Cyril", "Desmond", "Emrys", "Felix", "Gideon", "Hector", "Ivo", "Jasper",
             "Kenton", "Lionel", "Magnus", "Nye", "Osric", "Percy", "Rufus", "Silas", "Tobin", "Wilf"),
}
_FAMILY = ("Ashdown", "Birchall", "Corran", "Dunmore", "Elsworth", "Fenwick", "Garside", "Halloran",
           "Ivesley", "Jarrow", "Kestle", "Lindqvist", "Marchetti", "Nkemelu", "Okonjo", "Penrose",
           "Quarrie", "Ravensdale", "Sutcliffe", "Tregarth", "Umber", "Varga", "Whitlow", "Yardley")


@dataclass(frozen=True, slots=True)
class EventDraw:
    type: str
    onset_min: float
    severity: float
    ramp_min: float
    duration_min: float | None


@dataclass(frozen=True, slots=True)
class ArtifactDraw:
    type: str
    at_min: float
    to_min: float
    size: float  # type-specific magnitude drawn once


@dataclass(frozen=True, slots=True)
class LabDrawTime:
    tests: tuple[str, ...]
    t_min: int
    result_min: int


@dataclass(frozen=True, slots=True)
class Variant:
    """Everything about one seed's patient that is not minute-by-minute noise."""

    seed: int
    age: int
    sex: str
    name: str
    clock0_min: int  # clock minute of day at t = 0
    obs_offset_min: int  # latest observation set is at -obs_offset_min
    base: dict[str, float]  # usual value per vital and lab key
    variability: dict[str, float]
    o2_flow0: float
    o2_device0: str
    urine0: float
    events: tuple[EventDraw, ...]
    hr_response: float
    fever_factor: float  # steroids and afebrile elders
    fever_offset_c: float  # "the older, the colder"
    antipyretic: tuple[float, float, float, float] | None  # every, effect, suppression, first dose (min)
    artifacts: tuple[ArtifactDraw, ...]
    lab_draws: tuple[LabDrawTime, ...]
    opioid_o2_mask: float = 1.0
    extras: dict[str, float] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Streams:
    params: np.random.Generator
    latent: np.random.Generator
    measure: np.random.Generator


@functools.lru_cache(maxsize=1024)
def _scenario_key(scenario_id: str) -> int:
    return int.from_bytes(hashlib.sha256(scenario_id.encode()).digest()[:8], "big")


def streams(scenario: Scenario, seed: int) -> Streams:
    """Independent generators for one (scenario id, seed)."""
    ss = np.random.SeedSequence([seed, _scenario_key(scenario.id)])
    a, b, c = ss.spawn(3)
    return Streams(np.random.default_rng(a), np.random.default_rng(b), np.random.default_rng(c))


def _u(rng: np.random.Generator, r: tuple[float, float]) -> float:
    return float(r[0] + (r[1] - r[0]) * rng.random())


def lab_measure(key: str, sex: str) -> Measure:
    """Lab metadata, with the female haemoglobin and creatinine ranges for female patients (§6.2)."""
    return FEMALE_LABS.get(key, LABS[key]) if sex == "female" else LABS[key]


def _draw_labs(scenario: Scenario, rng: np.random.Generator, clock0: int) -> tuple[LabDrawTime, ...]:
    lo, hi = scenario.timing.simulated_window_min()
    out: list[LabDrawTime] = []
    for draw in scenario.measurement.labs:
        times = _draw_times(draw, rng, clock0, lo, hi)
        default_delay = (60.0, 120.0) if draw.daily_at_hour is not None else (30.0, 60.0)
        delay_range = draw.result_delay_min or default_delay
        for t in times:
            delay = _u(rng, delay_range)
            out.append(LabDrawTime(tuple(draw.tests), t, t + round(delay)))
    out.sort(key=lambda d: (d.t_min, d.tests))
    return tuple(out)


def _draw_times(draw: LabDraw, rng: np.random.Generator, clock0: int, lo: int, hi: int) -> list[int]:
    if draw.at_h is not None:
        return [round(_u(rng, draw.at_h) * 60)]
    hour = draw.daily_at_hour if draw.daily_at_hour is not None else 0.0  # validated: one of the two is set
    jitter = int(rng.integers(-20, 21))  # the phlebotomy round is never exactly on the hour
    first = round(hour * 60) - clock0 + jitter
    first = lo + (first - lo) % 1440
    return list(range(first, hi + 1, 1440))


def _scaled(r: tuple[float, float], u: float) -> float:
    return r[0] + (r[1] - r[0]) * u


def _draw_artifact(a: Artifact, rng: np.random.Generator) -> ArtifactDraw | None:
    happens = rng.random() < a.probability
    at = _u(rng, a.at_h) * 60
    to = _u(rng, a.to_h) * 60 if a.to_h is not None else at
    size_u = rng.random()
    if not happens:
        return None
    size = {
        "spo2-probe-off": 70 + 15 * size_u,  # §5.4: sudden 70–85%
        "motion": 80 + 8 * size_u,
        "bp-cuff-small": 5 + 10 * size_u,  # §5.4: 5–15 mmHg high
        "bp-cuff-large": 5 + 10 * size_u,  # §5.4: 5–15 mmHg low
        "haemolysed-sample": _scaled(a.size or (1.0, 2.0), size_u),  # mmol/L of false potassium
        "estimated-rr": 18.0 if size_u < 0.5 else 20.0,  # §5.4: always 18 or 20
    }[a.type]
    return ArtifactDraw(a.type, at, max(at, to), size)


def _draw_usual(
    scenario: Scenario, key: str, sex: str, rng: np.random.Generator, base: dict[str, float], var: dict[str, float]
) -> None:
    """This seed's usual value and slow-wander SD of one lab."""
    spec = getattr(scenario.baseline.labs, key)
    m = lab_measure(key, sex)
    base[key] = _u(rng, spec.baseline if spec else m.default_baseline)
    var[key] = spec.variability if spec and spec.variability else m.default_variability


def draw_variant(scenario: Scenario, seed: int, rng: np.random.Generator) -> Variant:
    """Draw one variant from the params stream, in a fixed order."""
    p = scenario.patient
    age = int(rng.integers(p.age[0], p.age[1] + 1))
    sex = p.sex[int(rng.integers(0, len(p.sex)))]
    given = _GIVEN[sex][int(rng.integers(0, 20))]
    family = _FAMILY[int(rng.integers(0, len(_FAMILY)))]
    clock0 = round(_u(rng, scenario.timing.decision_hour) * 60) % 1440
    obs_offset = int(rng.integers(3, 15))

    base: dict[str, float] = {}
    var: dict[str, float] = {}
    for key in VITAL_KEYS:
        spec = getattr(scenario.baseline.vitals, key)
        m = VITALS[key]
        base[key] = _u(rng, spec.baseline if spec else m.default_baseline)
        var[key] = spec.variability if spec and spec.variability else m.default_variability
    for key in LAB_KEYS:
        if key not in APPENDED_LABS:
            _draw_usual(scenario, key, sex, rng, base, var)
    ox = scenario.baseline.oxygen
    flow0 = _u(rng, ox.flow_l_min)
    flow0 = round(flow0 * 2) / 2  # flowmeters are set in half-litre steps
    urine0 = _u(rng, scenario.baseline.urine_output_ml_h)

    events: list[EventDraw] = []
    for ev in scenario.trajectory:
        course = COURSES[ev.type]
        onset = _u(rng, ev.onset_h) * 60
        sev = _u(rng, ev.severity)
        ramp = _u(rng, ev.ramp_h or course.ramp_h) * 60
        dur_range = ev.duration_h or course.duration_h
        dur = _u(rng, dur_range) * 60 if dur_range else None
        events.append(EventDraw(ev.type, onset, sev, max(ramp, 1.0), max(dur, ramp) if dur is not None else None))

    hr_response, fever_factor, fever_offset = 1.0, 1.0, 0.0
    antipyretic: tuple[float, float, float, float] | None = None
    for mod in scenario.modifiers:
        if mod.type == "beta-blocker":
            hr_response *= mod.hr_response
        elif mod.type == "steroids":
            fever_factor *= mod.fever_response
        elif mod.type == "older-age":
            fever_offset += mod.per_decade_c * max(0.0, (age - 40) / 10)
            if rng.random() < mod.afebrile_probability:
                fever_factor = 0.0
        elif mod.type == "antipyretic":
            phase = rng.random() * mod.every_h * 60
            antipyretic = (mod.every_h * 60, mod.effect_h * 60, mod.suppression, phase)

    artifacts = tuple(d for a in scenario.measurement.artifacts if (d := _draw_artifact(a, rng)) is not None)
    lab_draws = _draw_labs(scenario, rng, clock0)
    for key in APPENDED_LABS:
        _draw_usual(scenario, key, sex, rng, base, var)
    return Variant(
        seed=seed,
        age=age,
        sex=sex,
        name=f"{given} {family}",
        clock0_min=clock0,
        obs_offset_min=obs_offset,
        base=base,
        variability=var,
        o2_flow0=flow0,
        o2_device0=ox.device,
        urine0=urine0,
        events=tuple(events),
        hr_response=hr_response,
        fever_factor=fever_factor,
        fever_offset_c=fever_offset,
        antipyretic=antipyretic,
        artifacts=artifacts,
        lab_draws=lab_draws,
        # §4.4: supplemental oxygen masks the SpO2 fall of opioid hypoventilation (design factor 0.3).
        opioid_o2_mask=0.3 if flow0 > 0 else 1.0,
    )
