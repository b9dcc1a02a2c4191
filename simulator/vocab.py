"""Fixed vocabularies shared by the scenario format, the engine and the case types.

Codes and units come from clinical-reference §6 (LOINC / UCUM); reference ranges from §6.2;
physiological bounds are simulator design limits (values outside them are not survivable
ward readings), not clinical thresholds.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final, Literal

__all__ = [
    "CATEGORIES",
    "CATEGORY_ACTIONS",
    "CONSCIOUSNESS_LEVELS",
    "DISMISSAL_REASONS",
    "LABS",
    "LAB_KEYS",
    "O2_DEVICES",
    "TRAJECTORY_TYPES",
    "VITALS",
    "VITAL_KEYS",
    "Measure",
]

#: Ordered category vocabulary: slug -> human label (issue #2 "Scenario files").
CATEGORIES: Final[dict[str, str]] = {
    "chronic-baseline-fp": "False positive: chronically abnormal but stable baseline",
    "expected-course-fp": "False positive: expected, benign clinical course",
    "artifact-fp": "False positive: measurement artefact",
    "true-deterioration": "True deterioration",
    "deterioration-abnormal-baseline": "Deterioration in a patient with an abnormal baseline",
    "masked-deterioration": "Masked deterioration the alert misses",
    "lab-only-deterioration": "Deterioration visible in the labs while the vitals look normal",
    "stable-no-alert": "Stable patient, no alert (control case)",
}

#: The action each category implies: false positives and control cases are dismissed.
CATEGORY_ACTIONS: Final[dict[str, Literal["escalate", "dismiss"]]] = {
    "chronic-baseline-fp": "dismiss",
    "expected-course-fp": "dismiss",
    "artifact-fp": "dismiss",
    "true-deterioration": "escalate",
    "deterioration-abnormal-baseline": "escalate",
    "masked-deterioration": "escalate",
    "lab-only-deterioration": "escalate",
    "stable-no-alert": "dismiss",
}

CategorySlug = Literal[
    "chronic-baseline-fp",
    "expected-course-fp",
    "artifact-fp",
    "true-deterioration",
    "deterioration-abnormal-baseline",
    "masked-deterioration",
    "lab-only-deterioration",
    "stable-no-alert",
]

#: Trajectory event types; the first nine are the pathological courses of clinical-reference §4,
#: the last four are benign "expected course" events (§3 post-op fever, pain/anxiety, steroid WBC,
#: the fall of renal labs after haemodialysis).
TRAJECTORY_TYPES: Final[tuple[str, ...]] = (
    "sepsis",
    "haemorrhage",
    "respiratory-failure",
    "opioid-oversedation",
    "acute-kidney-injury",
    "hyperkalaemia",
    "heart-failure-exacerbation",
    "pulmonary-embolism",
    "dka",
    "post-op-inflammation",
    "pain-anxiety",
    "steroid-leukocytosis",
    "dialysis",
)

TrajectoryType = Literal[
    "sepsis",
    "haemorrhage",
    "respiratory-failure",
    "opioid-oversedation",
    "acute-kidney-injury",
    "hyperkalaemia",
    "heart-failure-exacerbation",
    "pulmonary-embolism",
    "dka",
    "post-op-inflammation",
    "pain-anxiety",
    "steroid-leukocytosis",
    "dialysis",
]

DISMISSAL_REASONS: Final[tuple[str, ...]] = ("baseline", "artifact", "expected-course", "other")
DismissalReason = Literal["baseline", "artifact", "expected-course", "other"]

CONSCIOUSNESS_LEVELS: Final[tuple[str, ...]] = ("A", "C", "V", "P", "U")
Consciousness = Literal["A", "C", "V", "P", "U"]

O2_DEVICES: Final[tuple[str, ...]] = ("air", "nasal-cannula", "simple-mask", "venturi-mask", "non-rebreather")
O2Device = Literal["air", "nasal-cannula", "simple-mask", "venturi-mask", "non-rebreather"]


@dataclass(frozen=True, slots=True)
class Measure:
    """One charted quantity: display data plus the bounds and defaults the engine needs."""

    key: str
    label: str
    unit: str  # UCUM
    loinc: str
    low: float  # physiological bound (design limit)
    high: float
    decimals: int  # charted precision
    default_baseline: tuple[float, float]
    default_variability: float  # SD of the slow latent wander around the baseline
    tau_min: float  # mean-reversion time constant of that wander, minutes
    ref_low: float | None = None
    ref_high: float | None = None


VitalKey = Literal["hr", "rr", "spo2", "sbp", "dbp", "temp"]

# Default baselines sit inside the NEWS2 zero-score bands (clinical-reference §1.1); DBP [C].
# Variabilities and time constants are simulator defaults (design choices, not published numbers).
VITALS: Final[dict[str, Measure]] = {
    "hr": Measure("hr", "Heart rate", "/min", "8867-4", 20, 220, 0, (66, 84), 3.0, 60),
    "rr": Measure("rr", "Respiratory rate", "/min", "9279-1", 4, 60, 0, (14, 18), 1.0, 60),
    "spo2": Measure("spo2", "SpO2 (pulse oximetry)", "%", "59408-5", 50, 100, 0, (95, 98), 0.7, 30),
    "sbp": Measure("sbp", "Systolic blood pressure", "mm[Hg]", "8480-6", 50, 250, 0, (115, 135), 5.0, 90),
    "dbp": Measure("dbp", "Diastolic blood pressure", "mm[Hg]", "8462-4", 25, 150, 0, (65, 80), 3.0, 90),
    "temp": Measure("temp", "Body temperature", "Cel", "8310-5", 33, 42.5, 1, (36.4, 37.0), 0.12, 120),
}
VITAL_KEYS: Final[tuple[str, ...]] = tuple(VITALS)

LabKey = Literal[
    "wbc",
    "hgb",
    "platelets",
    "sodium",
    "potassium",
    "bicarbonate",
    "bun",
    "creatinine",
    "lactate",
    "glucose",
    "crp",
    "ddimer",
    "ntprobnp",
    "ph",
]

# LOINC, UCUM and adult reference ranges: clinical-reference §6.2. Default baselines lie inside the
# reference range; bounds are design limits.
LABS: Final[dict[str, Measure]] = {
    "wbc": Measure("wbc", "WBC", "10*3/uL", "6690-2", 0.1, 150, 1, (5.0, 9.0), 0.4, 720, 4.0, 11.0),
    "hgb": Measure("hgb", "Haemoglobin", "g/dL", "718-7", 3, 22, 1, (13.8, 16.0), 0.15, 720, 13.5, 17.5),
    "platelets": Measure("platelets", "Platelets", "10*3/uL", "777-3", 2, 1500, 0, (180, 320), 8, 720, 150, 450),
    "sodium": Measure("sodium", "Sodium", "mmol/L", "2951-2", 100, 180, 0, (137, 142), 0.8, 720, 135, 145),
    "potassium": Measure("potassium", "Potassium", "mmol/L", "2823-3", 1.5, 10, 1, (3.8, 4.6), 0.1, 720, 3.5, 5.0),
    "bicarbonate": Measure("bicarbonate", "Bicarbonate", "mmol/L", "1963-8", 3, 50, 0, (23, 27), 0.6, 720, 22, 29),
    "bun": Measure("bun", "Urea nitrogen (BUN)", "mg/dL", "3094-0", 1, 250, 0, (9, 18), 1.0, 720, 7, 20),
    # Male reference range; female patients get CREATININE_FEMALE (§6.2: M 0.7–1.3, F 0.6–1.1 mg/dL).
    "creatinine": Measure("creatinine", "Creatinine", "mg/dL", "2160-0", 0.2, 20, 2, (0.7, 1.0), 0.03, 720, 0.7, 1.3),
    "lactate": Measure("lactate", "Lactate", "mmol/L", "2524-7", 0.3, 25, 1, (0.8, 1.5), 0.1, 240, 0.5, 2.0),
    "glucose": Measure("glucose", "Glucose", "mg/dL", "2345-7", 20, 1000, 0, (85, 130), 8, 240, 70, 140),
    "crp": Measure("crp", "C-reactive protein", "mg/L", "1988-5", 0, 500, 0, (1, 6), 0.5, 720, None, 10),
    "ddimer": Measure("ddimer", "D-dimer", "ug/mL{FEU}", "48065-7", 0, 40, 2, (0.2, 0.4), 0.03, 720, None, 0.5),
    "ntprobnp": Measure("ntprobnp", "NT-proBNP", "pg/mL", "33762-6", 5, 70000, 0, (40, 110), 8, 720, None, 125),
    # Arterial pH (§6.2: 2744-1, [pH], 7.35–7.45), for DKA (§4.8). Keys added after the first release
    # go at the end: the latent noise of the earlier labs must not move (see variant.APPENDED_LABS).
    "ph": Measure("ph", "pH (arterial blood)", "[pH]", "2744-1", 6.8, 7.8, 2, (7.37, 7.43), 0.01, 240, 7.35, 7.45),
}
LAB_KEYS: Final[tuple[str, ...]] = tuple(LABS)

#: Female haemoglobin reference (clinical-reference §6.2); the engine swaps it in for female patients.
HGB_FEMALE: Final[Measure] = Measure("hgb", "Haemoglobin", "g/dL", "718-7", 3, 22, 1, (12.2, 14.5), 0.15, 720, 12.0, 15.5)
#: Female creatinine reference (clinical-reference §6.2: 0.6–1.1 mg/dL). Only the reference range differs:
#: the default baseline (0.7–1.0) lies inside both ranges, so the simulated values are the same for either sex.
CREATININE_FEMALE: Final[Measure] = Measure(
    "creatinine", "Creatinine", "mg/dL", "2160-0", 0.2, 20, 2, (0.7, 1.0), 0.03, 720, 0.6, 1.1
)
#: Sex-specific lab metadata for female patients (clinical-reference §6.2); other labs use LABS for both sexes.
FEMALE_LABS: Final[dict[str, Measure]] = {"hgb": HGB_FEMALE, "creatinine": CREATININE_FEMALE}
