"""The saga diagram: ASL -> Mermaid, the template's DefinitionString, and docs/saga.md."""

from __future__ import annotations

import json
from itertools import pairwise
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from opayo_fba.cli.main import app
from opayo_fba.saga.diagram import (
    DIAGRAM_BEGIN,
    DIAGRAM_END,
    DiagramError,
    definition_from_template,
    embed,
    embedded_diagram,
    mermaid_from_asl,
    summarise,
)

ROOT = Path(__file__).resolve().parents[3]
DOC = ROOT / "docs" / "saga.md"

TRANSIENT = ["UpstreamError", "Lambda.ServiceException", "Lambda.TooManyRequestsException"]

# A small saga with every state type the renderer knows.
ASL: dict[str, Any] = {
    "StartAt": "Charge",
    "States": {
        "Charge": {
            "Type": "Task",
            "Resource": "${function:saga_capture_payment}",
            "Retry": [{"ErrorEquals": TRANSIENT, "MaxAttempts": 6, "IntervalSeconds": 2}],
            "Catch": [
                {"ErrorEquals": ["CaptureFailed"], "Next": "Undo", "ResultPath": "$.error"},
                {"ErrorEquals": ["States.ALL"], "Next": "Undo", "ResultPath": "$.error"},
            ],
            "Next": "Wait a bit",
        },
        "Wait a bit": {"Type": "Wait", "Seconds": 900, "Next": "Shipped?"},
        "Shipped?": {
            "Type": "Choice",
            "Choices": [
                {
                    "Or": [
                        {"Variable": "$.fulfillment.status", "StringEquals": "Complete"},
                        {"Variable": "$.fulfillment.status", "StringEquals": "CompletePartialled"},
                    ],
                    "Next": "Tell",
                },
                {
                    "And": [
                        {"Variable": "$.attempts", "NumericGreaterThanEquals": 3},
                        {"Not": {"Variable": "$.trackingNumbers", "IsPresent": True}},
                    ],
                    "Next": "Gave up",
                },
            ],
            "Default": "Wait a bit",
        },
        "Tell": {
            "Type": "Task",
            "Resource": "arn:${AWS::Partition}:states:::events:putEvents",
            "Next": "Done",
        },
        "Undo": {"Type": "Pass", "Result": {"outcome": "capture_failed"}, "Next": "Done"},
        "Done": {"Type": "Succeed"},
        "Gave up": {"Type": "Fail", "Error": "NeverShipped", "Cause": "no tracking"},
    },
}


def lines(diagram: str) -> list[str]:
    return [line.strip() for line in diagram.splitlines()]


def test_every_state_is_one_box_naming_its_type_and_what_it_calls() -> None:
    out = lines(mermaid_from_asl(ASL))
    assert out[0] == "stateDiagram-v2"
    assert out[1] == "[*] --> Charge"
    assert (
        "Charge : Charge<br>Lambda saga_capture_payment"
        "<br>retry ×6 on UpstreamError, Lambda.*" in out
    )
    # Names Mermaid cannot take as ids get a safe id; the box still shows the real name.
    assert "Wait_a_bit : Wait a bit<br>Wait 15 min" in out
    assert "Shipped_ : Shipped?<br>Choice" in out
    assert "Tell : Tell<br>events putEvents" in out
    assert "Undo : Undo<br>Pass" in out
    assert "Done : Done<br>Succeed" in out
    assert "Gave_up : Gave up<br>Fail NeverShipped" in out


def test_edges_carry_conditions_catches_and_ends() -> None:
    out = lines(mermaid_from_asl(ASL))
    assert "Charge --> Wait_a_bit" in out
    # Two catches to the same state are one edge naming both.
    assert "Charge --> Undo : catch CaptureFailed, any error" in out
    assert "Shipped_ --> Tell : fulfillment.status = Complete or CompletePartialled" in out
    assert "Shipped_ --> Gave_up : attempts >= 3 and not (trackingNumbers present)" in out
    assert "Shipped_ --> Wait_a_bit : otherwise" in out
    assert "Done --> [*]" in out
    assert "Gave_up --> [*]" in out
    assert not [line for line in out if line.startswith("Undo -->") and "[*]" in line]


def test_rendering_is_deterministic_and_follows_each_path() -> None:
    first = mermaid_from_asl(ASL)
    shuffled = {**ASL, "States": dict(reversed(list(ASL["States"].items())))}
    assert mermaid_from_asl(shuffled) == first
    order = [line.split(" : ")[0] for line in lines(first) if " : " in line and "-->" not in line]
    assert order == ["Charge", "Wait_a_bit", "Shipped_", "Tell", "Done", "Gave_up", "Undo"]


def test_labels_never_carry_mermaid_syntax() -> None:
    asl = {
        "StartAt": "A",
        "States": {
            "A": {
                "Type": "Choice",
                "Choices": [{"Variable": "$.x", "StringEquals": 'a:b;c#{d}"', "Next": "B"}],
                "Default": "B",
            },
            "B": {"Type": "Succeed"},
        },
    }
    [edge] = [line for line in lines(mermaid_from_asl(asl)) if line.startswith("A --> B : x")]
    label = edge.split(" : ", 1)[1]
    assert not set(label) & set(':;#{}"')


def test_state_names_mermaid_reads_as_keywords_get_safe_ids() -> None:
    names = ["Default", "State", "note", "Class", "end", "2nd try", "Default_"]
    states: dict[str, Any] = {
        name: {"Type": "Pass", "Next": after} for name, after in pairwise(names)
    }
    states[names[-1]] = {
        "Type": "Choice",
        "Choices": [{"Variable": "$.layout", "StringEquals": "direction LR", "Next": "end"}],
        "Default": "Default",
    }
    out = lines(mermaid_from_asl({"StartAt": "Default", "States": states}))
    ids = [line.split(" : ")[0] for line in out if " : " in line and "-->" not in line]
    assert ids == ["Default_", "State_", "note_", "Class_", "end_", "s_2nd_try", "Default__2"]
    assert "Default__2 : Default_<br>Choice" in out
    # A label saying "direction LR" would be read as a layout statement.
    assert "Default__2 --> end_ : layout = direction-LR" in out


def test_parallel_and_map_are_composite_states() -> None:
    asl = {
        "StartAt": "Both",
        "States": {
            "Both": {
                "Type": "Parallel",
                "Branches": [
                    {"StartAt": "Left", "States": {"Left": {"Type": "Pass", "End": True}}},
                    {"StartAt": "Right", "States": {"Right": {"Type": "Pass", "End": True}}},
                ],
                "End": True,
            }
        },
    }
    out = lines(mermaid_from_asl(asl))
    assert 'state "Both<br>Parallel" as Both {' in out
    assert out.index("Left : Left<br>Pass") < out.index("--") < out.index("Right : Right<br>Pass")
    assert "Both --> [*]" in out


def test_summaries_of_single_comparisons() -> None:
    assert summarise({"Variable": "$.n", "NumericLessThan": 2}) == "n < 2"
    assert summarise({"Variable": "$.ok", "BooleanEquals": False}) == "ok = false"
    assert summarise({"Variable": "$.a", "StringEqualsPath": "$.b"}) == "a = b"
    assert summarise({"Variable": "$.a", "IsNull": False}) == "a not null"
    assert summarise({"Condition": "{% $states.input.n > 2 %}"}) == "$states.input.n > 2"


@pytest.mark.parametrize(
    ("definition", "message"),
    [
        ({"States": {"A": {"Type": "Succeed"}}}, "StartAt None is not one of its States"),
        ({"StartAt": "A", "States": {}}, "has no States"),
        ({"StartAt": "A", "States": {"A": {"Next": "B"}}}, "state 'A' has no Type"),
        (
            {"StartAt": "A", "States": {"A": {"Type": "Pass", "Next": "Z"}}},
            "state 'A' goes to unknown state 'Z'",
        ),
    ],
)
def test_a_broken_definition_is_named(definition: dict[str, Any], message: str) -> None:
    with pytest.raises(DiagramError, match=message):
        mermaid_from_asl(definition)


def _template(definition_parts: list[Any]) -> dict[str, Any]:
    return {
        "Resources": {
            "StepFn": {"Type": "AWS::Lambda::Function", "Properties": {"Handler": "step.handler"}},
            "Machine": {
                "Type": "AWS::StepFunctions::StateMachine",
                "Properties": {"DefinitionString": {"Fn::Join": ["", definition_parts]}},
            },
        }
    }


def test_definition_string_refs_become_readable_placeholders() -> None:
    template = _template(
        [
            '{"StartAt":"A","States":{"A":{"Type":"Task","Resource":"',
            {"Fn::GetAtt": ["StepFn", "Arn"]},
            '","Next":"B"},"B":{"Type":"Task","Resource":"arn:',
            {"Ref": "AWS::Partition"},
            ':states:::events:putEvents","Parameters":{"Bus":"',
            {"Fn::GetAtt": ["Bus", "Arn"]},
            '"},"End":true}}}',
        ]
    )
    definition = definition_from_template(template)
    assert definition["States"]["A"]["Resource"] == "${function:step}"
    assert (
        definition["States"]["B"]["Resource"] == "arn:${AWS::Partition}:states:::events:putEvents"
    )
    assert definition["States"]["B"]["Parameters"]["Bus"] == "${Bus.Arn}"
    out = lines(mermaid_from_asl(definition))
    assert "A : A<br>Lambda step" in out
    assert "B : B<br>events putEvents" in out


def test_template_without_one_clear_state_machine_is_refused() -> None:
    with pytest.raises(DiagramError, match="0 state machines"):
        definition_from_template({"Resources": {}})
    with pytest.raises(DiagramError, match="no state machine 'Other'"):
        definition_from_template(_template(['{"StartAt":"A"}']), "Other")
    with pytest.raises(DiagramError, match="not JSON once resolved"):
        definition_from_template(_template(['{"StartAt":']))


def test_embed_replaces_only_between_the_markers() -> None:
    document = f"# Saga\n\nbefore\n\n{DIAGRAM_BEGIN}\nold\n{DIAGRAM_END}\n\nafter\n"
    diagram = mermaid_from_asl(ASL)
    updated = embed(document, diagram)
    assert updated.startswith("# Saga\n\nbefore\n\n")
    assert updated.endswith("\n\nafter\n")
    assert embedded_diagram(updated) == diagram
    assert embed(updated, diagram) == updated
    with pytest.raises(DiagramError, match="no diagram markers"):
        embed("# nothing here\n", diagram)


def test_cli_prints_updates_and_checks(tmp_path: Path) -> None:
    template = tmp_path / "t.json"
    template.write_text(json.dumps(_template([json.dumps(ASL)])))
    runner = CliRunner()
    printed = runner.invoke(app, ["saga", "diagram", "--template", str(template)])
    assert printed.exit_code == 0, printed.output
    assert printed.stdout == mermaid_from_asl(ASL)

    doc = tmp_path / "saga.md"
    doc.write_text(f"intro\n{DIAGRAM_BEGIN}\n{DIAGRAM_END}\n")
    stale = runner.invoke(
        app, ["saga", "diagram", "--template", str(template), "--check", str(doc)]
    )
    assert stale.exit_code == 1
    assert "out of date" in stale.stderr
    assert "--update" in stale.stderr
    updated = runner.invoke(
        app, ["saga", "diagram", "--template", str(template), "--update", str(doc)]
    )
    assert updated.exit_code == 0, updated.output
    assert embedded_diagram(doc.read_text()) == mermaid_from_asl(ASL)
    fresh = runner.invoke(
        app, ["saga", "diagram", "--template", str(template), "--check", str(doc)]
    )
    assert fresh.exit_code == 0


def test_cli_explains_a_missing_or_broken_template(tmp_path: Path) -> None:
    runner = CliRunner()
    missing = runner.invoke(app, ["saga", "diagram", "--template", str(tmp_path / "no.json")])
    assert missing.exit_code == 2
    assert "no template at" in missing.stderr
    broken = tmp_path / "broken.json"
    broken.write_text("{")
    bad = runner.invoke(app, ["saga", "diagram", "--template", str(broken)])
    assert bad.exit_code == 2
    assert "not a readable JSON template" in bad.stderr


def test_docs_embed_the_diagram_of_the_synthesized_saga(template_path: Path) -> None:
    """docs/saga.md shows the state machine CDK synthesizes, not an older drawing of it."""
    embedded = embedded_diagram(DOC.read_text(encoding="utf-8"))
    assert embedded is not None, f"{DOC} has no saga-diagram markers"
    generated = mermaid_from_asl(definition_from_template(json.loads(template_path.read_text())))
    assert embedded == generated, (
        "docs/saga.md does not show the synthesized state machine: run `make synth`, then "
        "`opayo-fba saga diagram --update docs/saga.md`"
    )
