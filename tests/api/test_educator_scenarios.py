"""Scenario library pages: list, detail, editor (validate, upload limits, publish), check."""

from __future__ import annotations

import re

import pytest
from sqlmodel import select

from app.models import AuditEvent, ScenarioVersion
from app.services.scenario_editor import MAX_BYTES, with_version
from tests.utils.auth import login
from tests.utils.educator_data import COPD, example_text, publish_example

HX = {"HX-Request": "true"}


@pytest.fixture
def educator(demo, client):
    return login(client, "educator")


def _variant(scenario_id: str, *, version: int = 1, title: str | None = None) -> str:
    """The COPD example under another id (and optionally another title or version)."""
    text = example_text(COPD).replace(f"id: {COPD}", f"id: {scenario_id}", 1)
    if title:
        text = re.sub(r"^title: .*$", f'title: "{title}"', text, count=1, flags=re.M)
    return with_version(text, version)


def _line_of(text: str, prefix: str) -> int:
    return next(i for i, line in enumerate(text.split("\n"), start=1) if line.startswith(prefix))


# --- library and detail ---------------------------------------------------------------


def test_library_lists_newest_versions_and_filters_by_category(demo, educator):
    publish_example(demo, COPD)
    publish_example(demo, COPD, text=_variant(COPD, version=2, title="COPD baseline, second edition"))
    r = educator.get("/scenarios")
    assert r.status_code == 200
    assert "COPD baseline, second edition" in r.text
    assert "of 2" in r.text  # version 2 of 2
    assert "<html" in r.text.lower()

    other = educator.get("/scenarios?category=true-deterioration")
    assert "COPD baseline" not in other.text
    assert "No published scenarios in this category" in other.text

    fragment = educator.get("/scenarios?category=chronic-baseline-fp", headers=HX)
    assert fragment.text.lstrip().startswith('<section id="scenario-results"')
    assert "<html" not in fragment.text.lower()
    assert "COPD baseline, second edition" in fragment.text
    assert fragment.headers["vary"] == "HX-Request"


def test_detail_shows_numbered_source_and_every_version(demo, educator):
    v1 = publish_example(demo, COPD)
    publish_example(demo, COPD, text=_variant(COPD, version=2))
    r = educator.get(f"/scenarios/{COPD}?version=1")
    assert r.status_code == 200
    n_lines = len(v1.source_text.rstrip("\n").split("\n"))
    assert f'id="line-{n_lines}"' in r.text
    assert f'id="line-{n_lines + 1}"' not in r.text
    assert "Source of version 1" in r.text
    assert "(newest is 2)" in r.text
    assert f'href="/scenarios/{COPD}?version=2"' in r.text
    assert educator.get(f"/scenarios/{COPD}?version=7").status_code == 404
    assert educator.get("/scenarios/no-such-thing").status_code == 404


def test_next_version_prefill(demo, educator):
    publish_example(demo, COPD)
    r = educator.get(f"/scenarios/new?from={COPD}")
    assert r.status_code == 200
    textarea = re.search(r"<textarea[^>]*>(.*?)</textarea>", r.text, re.S)
    assert textarea and re.search(r"^version: 2$", textarea.group(1), re.M)
    assert educator.get("/scenarios/new?from=unknown-id").status_code == 404


# --- validation -----------------------------------------------------------------------


def test_validate_shows_each_error_at_its_line_htmx_and_full_page(demo, educator):
    text = example_text(COPD).replace("expected_action: dismiss", "expected_action: dismis", 1)
    line = _line_of(text, "expected_action:")
    r = educator.post("/scenarios/validate", data={"text": text}, headers=HX)
    assert r.status_code == 422
    assert r.text.lstrip().startswith('<div id="editor">')
    # The summary links to the line; the line is marked and described by its message.
    assert f'<a href="#line-{line}">Line {line}, column' in r.text
    marked = re.search(rf'<li id="line-{line}" class="has-issue" aria-describedby="([^"]+)"', r.text)
    assert marked, "error line not marked"
    for anchor in marked.group(1).split():
        assert f'id="{anchor}"' in r.text
    assert "dismis" in r.text
    # The text comes back in the editor for fixing.
    assert "expected_action: dismis\n" in r.text

    full = educator.post("/scenarios/validate", data={"text": text, "csrf_token": educator.headers["X-CSRF-Token"]})
    assert full.status_code == 422
    assert "<html" in full.text.lower() and f'id="line-{line}"' in full.text


def test_validate_valid_text_offers_publishing_and_stores_nothing(demo, educator):
    r = educator.post("/scenarios/validate", data={"text": example_text(COPD)}, headers=HX)
    assert r.status_code == 200
    assert "No problems found" in r.text
    assert demo.exec(select(ScenarioVersion)).first() is None


def test_validate_reports_a_taken_version_at_the_version_line(demo, educator):
    publish_example(demo, COPD)
    changed = example_text(COPD).replace("Tiotropium", "Tiotropium (Spiriva)", 1)
    r = educator.post("/scenarios/validate", data={"text": changed}, headers=HX)
    assert r.status_code == 422
    line = _line_of(changed, "version:")
    assert f'<a href="#line-{line}">' in r.text
    assert "set `version: 2`" in r.text
    assert "The next free version number is <strong>2</strong>" in r.text


def test_validate_identical_text_says_already_published(demo, educator):
    publish_example(demo, COPD)
    r = educator.post("/scenarios/validate", data={"text": example_text(COPD)}, headers=HX)
    assert r.status_code == 200
    assert "Already published" in r.text


def test_empty_submission_is_a_clear_error(educator):
    r = educator.post("/scenarios/validate", data={"text": "  "}, headers=HX)
    assert r.status_code == 422
    assert "the scenario is empty" in r.text


def test_reserved_id_is_refused(educator):
    r = educator.post("/scenarios/validate", data={"text": _variant("new")}, headers=HX)
    assert r.status_code == 422
    assert "is reserved" in r.text


# --- uploads ----------------------------------------------------------------------------


def test_upload_with_an_error_points_at_its_line(demo, educator):
    text = example_text(COPD).replace("  age: [66, 82]", "  age: [82, 66]", 1)
    line = _line_of(text, "  age:")
    r = educator.post(
        "/scenarios/validate",
        data={"text": ""},
        files={"file": ("my-copd.yaml", text.encode(), "application/x-yaml")},
        headers=HX,
    )
    assert r.status_code == 422
    assert f'<a href="#line-{line}">' in r.text
    assert "in my-copd.yaml" in r.text
    assert "greater than high" in r.text


def test_upload_wins_over_the_text_box(demo, educator):
    r = educator.post(
        "/scenarios/validate",
        data={"text": "not: a scenario"},
        files={"file": ("copd.yaml", example_text(COPD).encode(), "text/yaml")},
        headers=HX,
    )
    assert r.status_code == 200 and "No problems found" in r.text


def test_upload_crlf_and_bom_are_accepted(demo, educator):
    raw = ("\ufeff" + example_text(COPD)).replace("\n", "\r\n").encode("utf-8")
    r = educator.post("/scenarios/validate", files={"file": ("copd.yaml", raw, "text/yaml")}, headers=HX)
    assert r.status_code == 200, r.text


def test_non_utf8_upload_is_refused_at_its_line(educator):
    raw = b"format_version: 1\nid: caf\xe9\n"
    r = educator.post("/scenarios/validate", files={"file": ("latin1.yaml", raw, "text/yaml")}, headers=HX)
    assert r.status_code == 422
    assert "not UTF-8" in r.text and "0xe9" in r.text
    assert '<a href="#line-2">Line 2, column 8</a>' in r.text


def test_oversized_upload_is_refused_without_echo(educator):
    raw = b"# " + b"x" * MAX_BYTES + b"\n"
    r = educator.post("/scenarios/validate", files={"file": ("big.yaml", raw, "text/yaml")}, headers=HX)
    assert r.status_code == 422
    assert "larger than 256 KiB" in r.text
    assert "xxxxxxxxxx" not in r.text


def test_declared_oversized_body_is_refused_before_reading(educator):
    body = b"text=" + b"x" * (2 * MAX_BYTES + 20 * 1024)
    r = educator.post(
        "/scenarios/validate",
        content=body,
        headers={**HX, "Content-Type": "application/x-www-form-urlencoded"},
    )
    assert r.status_code == 422
    assert "larger than 256 KiB" in r.text


def test_oversized_text_box_is_refused(educator):
    r = educator.post("/scenarios/validate", data={"text": "#" * (MAX_BYTES + 1)}, headers=HX)
    assert r.status_code == 422 and "larger than 256 KiB" in r.text


def test_alias_bomb_is_refused_with_a_clear_message(educator):
    lines = ['a: &a ["x","x","x","x","x","x","x","x","x"]']
    for i in range(1, 12):
        prev = chr(ord("a") + i - 1)
        cur = chr(ord("a") + i)
        lines.append(f"{cur}: &{cur} [" + ",".join([f"*{prev}"] * 9) + "]")
    r = educator.post("/scenarios/validate", files={"file": ("bomb.yaml", "\n".join(lines).encode(), "text/yaml")},
                      headers=HX)
    assert r.status_code == 422
    assert "alias" in r.text


def test_deep_nesting_is_refused_with_a_clear_message(educator):
    text = "a: " + "[" * 200 + "]" * 200 + "\n"
    r = educator.post("/scenarios/validate", data={"text": text}, headers=HX)
    assert r.status_code == 422
    assert "nesting deeper than" in r.text


# --- publishing -----------------------------------------------------------------------------


def test_publish_creates_an_immutable_version_and_redirects(demo, educator):
    r = educator.post("/scenarios/publish", data={"text": example_text(COPD), "csrf_token": educator.headers["X-CSRF-Token"]})
    assert r.status_code == 303
    assert r.headers["location"] == f"/scenarios/{COPD}?version=1&published=1"
    row = demo.exec(select(ScenarioVersion).where(ScenarioVersion.scenario_id == COPD)).one()
    assert row.version == 1 and row.published_by is not None
    assert demo.exec(select(AuditEvent).where(AuditEvent.action == "scenario.publish")).first() is not None
    page = educator.get(r.headers["location"])
    assert "Published version 1" in page.text

    # Changing the text under the same version is refused; nothing changes.
    changed = example_text(COPD).replace("Tiotropium", "Tiotropium (Spiriva)", 1)
    clash = educator.post("/scenarios/publish", data={"text": changed}, headers=HX)
    assert clash.status_code == 422 and "set `version: 2`" in clash.text
    assert demo.get(ScenarioVersion, row.id).source_text == example_text(COPD)

    # With the next version it is stored alongside; version 1 is untouched.
    ok = educator.post("/scenarios/publish", data={"text": with_version(changed, 2)}, headers=HX)
    assert ok.status_code == 204
    assert ok.headers["hx-redirect"] == f"/scenarios/{COPD}?version=2&published=1"
    versions = demo.exec(select(ScenarioVersion.version).where(ScenarioVersion.scenario_id == COPD)).all()
    assert sorted(versions) == [1, 2]


def test_publish_with_errors_stores_nothing(demo, educator):
    text = example_text(COPD).replace("category: chronic-baseline-fp", "category: nonsense", 1)
    r = educator.post("/scenarios/publish", data={"text": text}, headers=HX)
    assert r.status_code == 422
    assert f'<a href="#line-{_line_of(text, "category:")}">' in r.text
    assert demo.exec(select(ScenarioVersion)).first() is None
    assert demo.exec(select(AuditEvent).where(AuditEvent.action == "scenario.publish")).first() is None


def test_publishing_the_same_text_twice_keeps_one_version(demo, educator):
    for _ in range(2):
        r = educator.post("/scenarios/publish", data={"text": example_text(COPD)}, headers=HX)
        assert r.status_code == 204
    assert len(demo.exec(select(ScenarioVersion)).all()) == 1


# --- simulation check ------------------------------------------------------------------------


def test_check_runs_seeds_and_reports_agreement(demo, educator):
    publish_example(demo, COPD)
    r = educator.post(f"/scenarios/{COPD}/check", data={"seeds": "20", "version": "1"}, headers=HX)
    assert r.status_code == 200
    assert r.text.lstrip().startswith('<div id="check-result"')
    assert re.search(r"agrees with “dismiss” in \d+ % of 20 seeds", r.text)
    assert "Alert fired" in r.text

    full = educator.post(f"/scenarios/{COPD}/check",
                         data={"seeds": "20", "csrf_token": educator.headers["X-CSRF-Token"]})
    assert full.status_code == 200 and "<html" in full.text.lower() and "Source of version 1" in full.text


def test_check_is_bounded(demo, educator):
    publish_example(demo, COPD)
    r = educator.post(f"/scenarios/{COPD}/check", data={"seeds": "100000"}, headers=HX)
    assert r.status_code == 422
    assert educator.post("/scenarios/no-such/check", data={"seeds": "20"}, headers=HX).status_code == 404


def test_check_stops_at_the_time_budget(demo):
    from app.services.scenario_library import CHECK_BATCH, run_check

    version = publish_example(demo, COPD)
    result = run_check(version, 200, budget_s=0.0)
    assert result.seeds == CHECK_BATCH and not result.complete
    assert 0.0 <= result.agreement <= 1.0


# --- preview ------------------------------------------------------------------------------


def test_preview_shows_the_trainee_case_and_the_answer(demo, educator):
    from app.services.scenarios import scenario_of
    from simulator import simulate

    version = publish_example(demo, COPD)
    case = simulate(scenario_of(version), 7)
    r = educator.get(f"/scenarios/{COPD}/preview?seed=7&version=1")
    assert r.status_code == 200
    # The trainee partials draw the case: banner, alert panel, charts.
    assert case.view.patient.name in r.text
    assert 'id="patient-name"' in r.text and 'id="alert-heading"' in r.text and 'id="vitals-heading"' in r.text
    assert "last 48 hours" in r.text or f"last {case.view.history_hours} hours" in r.text
    # And the answer follows.
    assert "Expected action: Dismiss" in r.text
    assert case.answer.explanation.clue[:40] in r.text
    ids = re.findall(r'\sid="([^"]+)"', r.text)
    assert len(ids) == len(set(ids)), "duplicate ids on the preview page"


def test_preview_fragment_seeds_and_future(demo, educator):
    publish_example(demo, COPD)
    one = educator.get(f"/scenarios/{COPD}/preview?seed=1", headers=HX)
    assert one.text.lstrip().startswith('<div id="preview"')
    assert one.text == educator.get(f"/scenarios/{COPD}/preview?seed=1", headers=HX).text
    assert "Next seed (2)" in one.text and "Previous seed (0)" in one.text
    later = educator.get(f"/scenarios/{COPD}/preview?seed=1&future=true", headers=HX)
    assert "before and after the decision" in later.text
    assert "before and after the decision" not in one.text


def test_preview_refuses_unknown_versions_and_bad_seeds(demo, educator):
    publish_example(demo, COPD)
    assert educator.get(f"/scenarios/{COPD}/preview?version=3").status_code == 404
    assert educator.get(f"/scenarios/{COPD}/preview?seed=-1").status_code == 422
    assert educator.get(f"/scenarios/{COPD}/preview?seed=abc").status_code == 422


def test_a_chunked_upload_past_the_limit_is_refused_with_a_clear_message(educator):
    """A chunked body has no Content-Length to refuse up front: it is counted as it arrives."""
    from app.deps import MAX_BODY_BYTES

    def body():  # type: ignore[no-untyped-def]
        yield (b'--b\r\nContent-Disposition: form-data; name="file"; filename="big.yaml"\r\n'
               b"Content-Type: application/x-yaml\r\n\r\n")
        for _ in range(3 * MAX_BODY_BYTES // 65536):
            yield b"#" * 65536
        yield b"\r\n--b--\r\n"

    r = educator.post("/scenarios/validate", content=body(),
                      headers={**HX, "Content-Type": "multipart/form-data; boundary=b"})
    assert r.request.headers.get("Transfer-Encoding") == "chunked"
    assert r.status_code == 413
    assert "larger than 2048 KiB" in r.text and "under 256 KiB" in r.text
