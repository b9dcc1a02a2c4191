"""Simulator benchmark: generation throughput, speed-up over a per-sample Python loop, time per case.

Run:  .venv/bin/python bench/bench_simulator.py [--cases 10000] [--loop-cases 20] [--scenario FILE]

What is measured, all in one run on the same machine:

1. Latent-state generation (the per-sample work: every vital each minute and every lab each
   15 minutes over the whole case window, with noise, circadian rhythm, trajectory effects,
   masking, oxygen titration, consciousness and urine) for N cases, vectorised in batches.
2. The same latent model written as a straightforward per-sample Python loop, timed on a few
   cases and reported per case; the ratio 2 / 1 is the speed-up (goal: >= 100x).
3. Batch generation of N full case summaries (`simulate_batch`: latent state, charting, alert and
   outcome, as `scenarios check` uses it).
4. One complete case as the web app builds it (`simulate()` plus `model_dump_json()`), median and
   95th percentile over repeated seeds (goal: < 20 ms).

Times are CPU time of this process (time.process_time), which other jobs on a shared machine
disturb far less than wall-clock time; everything here is single-threaded, so for an idle machine
the two agree. Absolute numbers depend on the machine; compare the ratios within one run.
"""

from __future__ import annotations

import argparse
import math
import random
import statistics
import sys
import time
from collections.abc import Sequence
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from simulator import Scenario, load_scenario, simulate  # noqa: E402
from simulator.engine import simulate_batch  # noqa: E402
from simulator.physiology import (  # noqa: E402
    CIRCADIAN_AMPLITUDE,
    CIRCADIAN_PEAK_MIN,
    LAB_STEP_MIN,
    O2_MAX_CORRECTION,
    O2_POINTS_PER_L,
    O2_STEPS,
    simulate_latent,
)
from simulator.trajectories import COURSES  # noqa: E402
from simulator.variant import Variant, draw_variant, lab_measure, streams  # noqa: E402
from simulator.vocab import LAB_KEYS, VITAL_KEYS, VITALS  # noqa: E402

BATCH = 64


def _effect_at(v: Variant, target: str, t: float) -> float:
    """Sum of trajectory effects on one target at one minute, modifiers included (per-sample form)."""
    total = 0.0
    for ev in v.events:
        course = COURSES[ev.type]
        for eff in course.effects:
            if eff.target != target:
                continue
            tt = t - eff.lag_h * 60.0
            x = min(max((tt - ev.onset_min) / ev.ramp_min, 0.0), 1.0)
            if ev.duration_min is not None:
                x = min(x, min(max((ev.onset_min + ev.duration_min - tt) / ev.ramp_min, 0.0), 1.0))
            c = eff.delta * (ev.severity * x) ** eff.power
            if target == "hr" and eff.delta > 0:
                c *= v.hr_response
            elif target == "temp" and course.fever and eff.delta > 0:
                factor = 1.0
                if v.antipyretic is not None:
                    every, effect, suppression, phase = v.antipyretic
                    if (t - phase) % every < effect:
                        factor = 1.0 - suppression
                c = max(c - v.fever_offset_c, 0.0) * v.fever_factor * factor
            elif target == "spo2_deficit" and ev.type == "opioid-oversedation":
                c *= v.opioid_o2_mask
            total += c
    return total


def python_latent(v: Variant, window: tuple[int, int], seed: int) -> dict[str, list[float]]:
    """The latent model as a plain loop over every sample (the baseline the engine is compared to)."""
    rnd = random.Random(seed)
    lo, hi = window
    out: dict[str, list[float]] = {}
    deficit = [max(_effect_at(v, "spo2_deficit", float(t)), 0.0) for t in range(lo, hi + 1)]
    added = []
    for d in deficit:
        litres = 0.0
        for threshold, step in O2_STEPS:
            if d >= threshold:
                litres = step
        added.append(litres)
    for key in VITAL_KEYS:
        m = VITALS[key]
        phi = math.exp(-1.0 / m.tau_min)
        sd = v.variability[key]
        x = rnd.gauss(0.0, sd)
        series = []
        for i, t in enumerate(range(lo, hi + 1)):
            if i:
                x = phi * x + sd * math.sqrt(1 - phi * phi) * rnd.gauss(0.0, 1.0)
            circ = CIRCADIAN_AMPLITUDE[key] * math.cos(2 * math.pi * (v.clock0_min + t - CIRCADIAN_PEAK_MIN) / 1440)
            value = v.base[key] + x + circ + _effect_at(v, key, float(t))
            if key == "spo2":
                value += min(O2_MAX_CORRECTION * deficit[i], O2_POINTS_PER_L * added[i]) - deficit[i]
            series.append(min(max(value, m.low), m.high))
        out[key] = series
    out["o2_flow"] = [min(v.o2_flow0 + a, 15.0) for a in added]
    out["consciousness"] = [min(max(_effect_at(v, "consciousness", float(t)), 0.0), 1.2) for t in range(lo, hi + 1)]
    out["urine"] = [v.urine0 * (1 - min(max(_effect_at(v, "urine", float(t)), 0.0), 0.95)) for t in range(lo, hi + 1)]
    for key in LAB_KEYS:
        m = lab_measure(key, v.sex)
        phi = math.exp(-LAB_STEP_MIN / m.tau_min)
        sd = v.variability[key]
        x = rnd.gauss(0.0, sd)
        series = []
        for i, t in enumerate(range(lo, hi + 1, LAB_STEP_MIN)):
            if i:
                x = phi * x + sd * math.sqrt(1 - phi * phi) * rnd.gauss(0.0, 1.0)
            series.append(min(max(v.base[key] + x + _effect_at(v, key, float(t)), m.low), m.high))
        out[key] = series
    return out


def _variants(scenario: Scenario, seeds: Sequence[int]) -> tuple[list[Variant], list[np.random.Generator]]:
    rngs = [streams(scenario, s) for s in seeds]
    return [draw_variant(scenario, s, r.params) for s, r in zip(seeds, rngs, strict=True)], [r.latent for r in rngs]


def main(argv: Sequence[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--cases", type=int, default=10_000)
    ap.add_argument("--loop-cases", type=int, default=20, help="cases for the per-sample Python loop")
    ap.add_argument("--single-cases", type=int, default=200, help="cases for the one-case timing")
    ap.add_argument("--scenario", type=Path, default=ROOT / "scenarios" / "sepsis-classic.yaml")
    args = ap.parse_args(argv)
    scenario = load_scenario(args.scenario)
    window = scenario.timing.simulated_window_min()
    minutes = window[1] - window[0] + 1
    samples = minutes * len(VITAL_KEYS) + (minutes // LAB_STEP_MIN + 1) * len(LAB_KEYS)
    print(f"scenario {scenario.id} v{scenario.version}: {minutes} minutes per case, {samples:,} latent samples")

    # 1. Vectorised latent generation for N cases (variant draws prepared outside the timer).
    seeds = list(range(args.cases))
    latent_time = 0.0
    for i in range(0, len(seeds), BATCH):
        vs, rngs = _variants(scenario, seeds[i : i + BATCH])
        t = time.process_time()
        simulate_latent(vs, rngs, window)
        latent_time += time.process_time() - t
    per_case_np = latent_time / args.cases
    print(f"latent state, numpy:        {args.cases:>6} cases in {latent_time:7.2f} s = "
          f"{args.cases / latent_time:8.0f} cases/s ({per_case_np * 1e3:.3f} ms/case, "
          f"{samples * args.cases / latent_time / 1e6:.0f} M samples/s)")

    # 2. The same model, one sample at a time in Python.
    vs, _ = _variants(scenario, seeds[: args.loop_cases])
    loop_time = 0.0
    for seed, v in enumerate(vs):
        t = time.process_time()
        python_latent(v, window, seed)
        loop_time += time.process_time() - t
    per_case_py = loop_time / args.loop_cases
    print(f"latent state, Python loop:  {args.loop_cases:>6} cases in {loop_time:7.2f} s = "
          f"{args.loop_cases / loop_time:8.1f} cases/s ({per_case_py * 1e3:.1f} ms/case)")
    ratio = per_case_py / per_case_np
    print(f"speed-up of the vectorised engine over the per-sample loop: {ratio:.0f}x (goal >= 100x)")

    # 3. Full batch summaries (latent + charting + alert + outcome) for N cases.
    t = time.process_time()
    for i in range(0, len(seeds), BATCH):
        simulate_batch(scenario, seeds[i : i + BATCH])
    batch_time = time.process_time() - t
    print(f"simulate_batch (chart, alert, outcome): {args.cases} cases in {batch_time:.2f} s = "
          f"{args.cases / batch_time:.0f} cases/s")

    # 4. One complete case as the web app builds it.
    simulate(scenario, 0)
    times = []
    size = 0
    walls = []
    for seed in range(args.single_cases):
        t, w = time.process_time(), time.perf_counter()
        case = simulate(scenario, seed)
        text = case.model_dump_json()
        times.append(time.process_time() - t)
        walls.append(time.perf_counter() - w)
        size = max(size, len(text))
    times.sort()
    p95 = times[int(0.95 * (len(times) - 1))]
    print(f"one case (simulate + JSON): median {statistics.median(times) * 1e3:.2f} ms CPU, p95 {p95 * 1e3:.2f} ms "
          f"(goal < 20 ms); wall median {statistics.median(walls) * 1e3:.2f} ms; largest JSON {size / 1024:.1f} KiB")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
