"""Fuzz the scenario loader: only clear validation errors, never a crash, never a half-stored scenario.

FUZZ_EXAMPLES (default 150 per property here) sets the number of examples; `bench/bench_fuzz.py`
runs the same properties with 10,000.
"""

from __future__ import annotations

import os
import time
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import func
from sqlalchemy.engine import Engine
from sqlmodel import Session, select

from app.models import AuditEvent, ScenarioVersion
from app.services.scenarios import publish, publish_files
from simulator import Scenario, ScenarioValidationError, parse_scenario, parse_scenario_bytes
from tests.conftest import rolled_back
from tests.fuzz.strategies import SEEDS, scenario_documents, text_mutants, upload_bytes

EXAMPLES = int(os.environ.get("FUZZ_EXAMPLES", "150"))
PER_DOCUMENT_S = 5.0  # a generous bound on a loaded 2-core machine; typical is a few ms

FUZZ = settings(
    max_examples=EXAMPLES,
    deadline=None,
    database=None,
    derandomize=os.environ.get("FUZZ_RANDOM") != "1",
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.filter_too_much],
)


def check_loader_outcome(call, data, source: str = "fuzz.yaml") -> str:  # type: ignore[no-untyped-def]
    """Run one document through the loader: 'valid' or 'refused', anything else fails the test."""
    start = time.perf_counter()
    try:
        scenario = call(data, source)
    except ScenarioValidationError as exc:
        assert exc.issues, "a refusal must say why"
        for issue in exc.issues:
            assert issue.source == source
            assert isinstance(issue.message, str) and issue.message.strip(), issue
            assert issue.line >= 1 and issue.col >= 1, issue
            assert isinstance(issue.field, str) and issue.field, issue
            assert "Traceback" not in issue.message
        outcome = "refused"
    else:
        assert isinstance(scenario, Scenario)
        assert len(scenario.content_hash) == 64
        outcome = "valid"
    elapsed = time.perf_counter() - start
    assert elapsed < PER_DOCUMENT_S, f"took {elapsed:.1f}s"
    return outcome


def test_every_shipped_scenario_still_loads() -> None:
    assert SEEDS, "scenarios/ is empty"
    for text in SEEDS:
        assert check_loader_outcome(parse_scenario, text) == "valid"


@FUZZ
@given(scenario_documents)
def test_loader_refuses_clearly_or_accepts(text: str) -> None:
    check_loader_outcome(parse_scenario, text)


@FUZZ
@given(upload_bytes)
def test_byte_loader_refuses_clearly_or_accepts(data: bytes) -> None:
    check_loader_outcome(parse_scenario_bytes, data)


def _counts(session: Session) -> tuple[int, int]:
    versions = session.exec(select(func.count()).select_from(ScenarioVersion)).one()
    audits = session.exec(select(func.count()).select_from(AuditEvent)).one()
    return int(versions), int(audits)


@settings(FUZZ, max_examples=max(10, EXAMPLES // 3))
@given(text_mutants())
def test_publish_stores_all_of_a_scenario_or_nothing(engine: Engine, text: str) -> None:
    with rolled_back(engine) as session:
        before = _counts(session)
        try:
            result = publish(session, text=text, source="fuzz.yaml")
        except ScenarioValidationError:
            assert _counts(session) == before, "a refused scenario left rows behind"
            return
        assert result.created
        assert _counts(session) == (before[0] + 1, before[1] + 1)
        stored = session.get(ScenarioVersion, result.version.id)
        assert stored is not None and stored.source_text == text


@settings(FUZZ, max_examples=max(10, EXAMPLES // 5))
@given(st.lists(text_mutants(), min_size=1, max_size=3), st.integers(0, len(SEEDS) - 1))
def test_publishing_several_files_is_all_or_none(engine: Engine, tmp_path_factory, mutants: list[str],  # type: ignore[no-untyped-def]
                                                 seed_index: int) -> None:
    folder: Path = tmp_path_factory.mktemp("pub")
    (folder / "0-good.yaml").write_text(SEEDS[seed_index], encoding="utf-8")
    for i, text in enumerate(mutants):
        (folder / f"{i + 1}-mutant.yaml").write_bytes(text.encode("utf-8", "surrogatepass"))
    paths = sorted(folder.glob("*.yaml"))
    with rolled_back(engine) as session:
        before = _counts(session)
        try:
            results = publish_files(session, paths)
        except ScenarioValidationError as exc:
            assert exc.issues
            assert _counts(session) == before, "a refused batch stored some of its files"
            return
        created = sum(r.created for r in results)
        assert created >= 1
        assert _counts(session)[0] == before[0] + created
