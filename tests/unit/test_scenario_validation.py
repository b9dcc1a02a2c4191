"""Broken scenario files give located, readable issues and never anything but ScenarioValidationError."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

import simulator
from app.cli.scenarios import scenarios_app
from simulator import (
    ScenarioIssue,
    ScenarioValidationError,
    load_scenario,
    parse_scenario,
    parse_scenario_bytes,
)
from simulator.loader import MAX_ALIASES, MAX_BYTES, MAX_DEPTH, MAX_ISSUES

DATA = Path(__file__).parent / "data"
ROOT = Path(__file__).resolve().parents[2]
GOOD = ROOT / "scenarios" / "copd-hypercapnic-baseline.yaml"


def issues_of(path: Path) -> list[ScenarioIssue]:
    with pytest.raises(ScenarioValidationError) as info:
        load_scenario(path)
    return info.value.issues


def where(issues: list[ScenarioIssue]) -> set[tuple[int, int, str]]:
    return {(i.line, i.col, i.field) for i in issues}


def test_issue_string_format() -> None:
    issue = ScenarioIssue("a.yaml", 3, 7, "patient.age", "too old")
    assert str(issue) == "a.yaml:3:7: patient.age: too old"


def test_wrong_types_are_located() -> None:
    issues = issues_of(DATA / "bad-types.yaml")
    assert where(issues) == {(3, 1, "version"), (8, 3, "patient.age")}
    assert all(i.source.endswith("bad-types.yaml") for i in issues)


def test_impossible_physiology_points_at_the_value() -> None:
    issues = issues_of(DATA / "bad-physiology.yaml")
    assert where(issues) == {
        (13, 12, "baseline.vitals.spo2.baseline"),
        (14, 11, "baseline.vitals.sbp.baseline"),
        (15, 12, "baseline.vitals.temp.baseline"),
    }
    by_field = {i.field: i.message for i in issues}
    assert "50–100" in by_field["baseline.vitals.spo2.baseline"]
    assert "greater than high" in by_field["baseline.vitals.sbp.baseline"]


def test_unknown_vocabulary_and_fields() -> None:
    issues = issues_of(DATA / "bad-vocabulary.yaml")
    assert where(issues) == {
        (5, 1, "category"),
        (11, 3, "patient.colour"),
        (15, 5, "trajectory[1].type"),
        (18, 5, "modifiers[0]"),
    }
    msgs = {i.field: i.message for i in issues}
    assert "false-alarm" in msgs["category"]
    assert "zombie-apocalypse" in msgs["trajectory[1].type"]
    assert "unknown field 'colour'" in msgs["patient.colour"]


def test_yaml_syntax_error_has_position() -> None:
    (issue,) = issues_of(DATA / "bad-syntax.yaml")
    assert (issue.line, issue.col) == (5, 12)
    assert issue.message.startswith("YAML syntax error")


def test_coherence_errors_are_located() -> None:
    issues = issues_of(DATA / "bad-coherence.yaml")
    assert where(issues) == {(13, 5, "trajectory[0].onset_h"), (14, 1, "expected_action")}


def test_non_utf8_bytes() -> None:
    (issue,) = issues_of(DATA / "bad-encoding.yaml")
    assert (issue.line, issue.col) == (2, 8)
    assert "UTF-8" in issue.message


def test_thousands_of_problems_list_the_first_ones_in_document_order_and_count_the_rest() -> None:
    text = GOOD.read_text(encoding="utf-8")
    lines = len(text.splitlines())
    text += "".join(f"extra_{i}: {i}\n" for i in range(3000)) + "titel: misspelt\n"
    with pytest.raises(ScenarioValidationError) as info:
        parse_scenario(text, "x.yaml")
    issues = info.value.issues
    assert len(issues) == MAX_ISSUES + 1
    assert [i.line for i in issues[:MAX_ISSUES]] == list(range(lines + 1, lines + 1 + MAX_ISSUES))
    assert issues[0].message == "unknown field 'extra_0'"
    last = issues[-1]
    assert (last.field, last.line) == ("(document)", lines + 1 + MAX_ISSUES)
    assert last.message.startswith(f"{3001 - MAX_ISSUES} more problems")


def test_misspelt_field_gets_a_suggestion() -> None:
    text = GOOD.read_text(encoding="utf-8").replace("spo2: {baseline: [88, 91], documented: true, usual: [88, 92]}",
                                                    "spo2: {baseline: [88, 91], documentd: true}")
    with pytest.raises(ScenarioValidationError) as info:
        parse_scenario(text, "x.yaml")
    (issue,) = info.value.issues
    assert issue.field == "baseline.vitals.spo2.documentd"
    assert "did you mean 'documented'" in issue.message


@pytest.mark.parametrize(
    ("text", "needle"),
    [
        ("", "not empty"),
        ("- 1\n- 2\n", "not a list"),
        ("a: 1\na: 2\n", "duplicate field"),
        ("base: &b {x: 1}\nother:\n  <<: *b\n", "merge keys"),
        ("a: !!python/object:os.system ls\n", "unsupported YAML tag"),
        ("a: !custom 1\n", "unsupported YAML tag"),
        ("? [1, 2]\n: x\n", "plain text"),
        ("a: 1\n---\nb: 2\n", "YAML syntax error"),
        ("a: \x07\n", "unreadable character"),
    ],
)
def test_unsafe_or_malformed_yaml(text: str, needle: str) -> None:
    with pytest.raises(ScenarioValidationError) as info:
        parse_scenario(text, "t.yaml")
    assert any(needle in i.message for i in info.value.issues), info.value.issues


def test_alias_bomb_is_refused_before_expansion() -> None:
    lines = ["l0: &l0 [x, x, x, x, x, x, x, x, x]"]
    lines += [f"l{i}: &l{i} [" + ", ".join([f"*l{i - 1}"] * 9) + "]" for i in range(1, 10)]
    with pytest.raises(ScenarioValidationError) as info:
        parse_scenario("\n".join(lines), "bomb.yaml")
    (issue,) = info.value.issues
    assert f"more than {MAX_ALIASES} aliases" in issue.message


def test_few_aliases_that_expand_a_lot_are_refused() -> None:
    # 48 aliases (under the alias limit), but each level doubles: 2**25 nodes if walked naively.
    lines = ["a0: &a0 [x, x]"] + [f"a{i}: &a{i} [*a{i - 1}, *a{i - 1}]" for i in range(1, 25)]
    with pytest.raises(ScenarioValidationError) as info:
        parse_scenario("\n".join(lines), "wide.yaml")
    (issue,) = info.value.issues
    assert "expands to more than" in issue.message


@pytest.mark.parametrize("depth", [MAX_DEPTH + 1, 5000])
def test_deep_nesting_is_refused(depth: int) -> None:
    text = "a: " + "[" * depth + "]" * depth
    with pytest.raises(ScenarioValidationError) as info:
        parse_scenario(text, "deep.yaml")
    (issue,) = info.value.issues
    assert "nesting deeper" in issue.message


def test_recursive_alias_is_refused() -> None:
    with pytest.raises(ScenarioValidationError) as info:
        parse_scenario("a: &a [*a]\n", "rec.yaml")
    assert "nesting deeper" in info.value.issues[0].message


def test_oversized_documents_are_refused() -> None:
    big = "# " + "x" * MAX_BYTES + "\n"
    for call in (lambda: parse_scenario(big, "big.yaml"), lambda: parse_scenario_bytes(big.encode(), "big.yaml")):
        with pytest.raises(ScenarioValidationError) as info:
            call()
        assert "larger than 256 KiB" in info.value.issues[0].message


def test_content_hash_ignores_line_endings_and_bom_only() -> None:
    text = GOOD.read_text(encoding="utf-8")
    a = parse_scenario(text, "a")
    b = parse_scenario("\ufeff" + text.replace("\n", "\r\n"), "b")
    c = parse_scenario(text.replace("Day 4 of admission", "Day 5 of admission"), "c")
    assert a.content_hash == b.content_hash
    assert a.content_hash != c.content_hash


def test_missing_file_is_an_issue_not_an_exception(tmp_path: Path) -> None:
    (issue,) = issues_of(tmp_path / "nope.yaml")
    assert "cannot read file" in issue.message


def test_cli_validate_reports_every_file_and_exits_1() -> None:
    result = CliRunner().invoke(scenarios_app, ["validate", str(GOOD), str(DATA)])
    assert result.exit_code == 1
    lines = [ln for ln in result.stdout.splitlines() if ln.strip()]
    assert any(ln.startswith(str(DATA / "bad-physiology.yaml") + ":13:12: ") for ln in lines)
    assert any("bad-vocabulary.yaml:11:3: patient.colour:" in ln for ln in lines)
    assert not any("copd-hypercapnic-baseline" in ln for ln in lines)
    assert "Traceback" not in result.output


def test_cli_validate_good_file_exits_0() -> None:
    result = CliRunner().invoke(scenarios_app, ["validate", str(GOOD)])
    assert result.exit_code == 0, result.output


def test_cli_validate_reports_a_file_not_named_after_its_id(tmp_path: Path) -> None:
    wrong = tmp_path / "copd-renamed.yaml"
    wrong.write_text(GOOD.read_text(encoding="utf-8"), encoding="utf-8")
    right = tmp_path / "copd-hypercapnic-baseline.yaml"
    right.write_text(GOOD.read_text(encoding="utf-8"), encoding="utf-8")
    result = CliRunner().invoke(scenarios_app, ["validate", str(wrong), str(right)])
    assert result.exit_code == 1
    (line,) = [ln for ln in result.stdout.splitlines() if ln.strip()]
    assert line.startswith(f"{wrong}:1:1: id: ")
    assert "'copd-hypercapnic-baseline'" in line and "copd-hypercapnic-baseline.yaml" in line
    assert "2 file(s) checked: 1 valid, 1 with errors." in result.stderr


def test_file_name_check_accepts_yml_and_is_not_applied_to_uploads() -> None:
    from simulator.loader import file_name_issue

    scenario = load_scenario(GOOD)
    assert file_name_issue(Path("x/copd-hypercapnic-baseline.yml"), scenario) is None
    assert file_name_issue(Path("x/copd-hypercapnic-baseline.txt"), scenario) is not None
    # An upload is parsed from bytes under a display name; no file-name rule applies there.
    parse_scenario_bytes(GOOD.read_bytes(), "browser upload")


def test_categories_vocabulary_contains_the_issue_minimum() -> None:
    required = {
        "chronic-baseline-fp", "expected-course-fp", "artifact-fp",
        "true-deterioration", "deterioration-abnormal-baseline", "masked-deterioration",
    }
    assert required <= set(simulator.CATEGORIES)
    assert list(simulator.CATEGORIES)[:6] == [
        "chronic-baseline-fp", "expected-course-fp", "artifact-fp",
        "true-deterioration", "deterioration-abnormal-baseline", "masked-deterioration",
    ]
