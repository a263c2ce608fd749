"""Evaluator-optimizer: stops on accept, stops at the bound, keeps and passes on feedback."""

from __future__ import annotations

import pytest
from pydantic import BaseModel

from ascent import UserError
from ascent.patterns import Evaluation, refine
from ascent.testing import recording_traces

from .conftest import one_workflow, scripted


def revise(feedback: str) -> Evaluation:
    return Evaluation(verdict="revise", feedback=feedback)


ACCEPT = Evaluation(verdict="accept", feedback="")


async def test_it_stops_when_the_evaluator_accepts_and_keeps_every_round() -> None:
    generator, gen_model = scripted("Writer", "draft 1", "draft 2", "draft 3 (unused)")
    evaluator, eval_model = scripted("Critic", revise("too long"), ACCEPT)

    result = await refine(generator, evaluator, "Write a slogan", max_rounds=5)

    assert result.accepted
    assert [r.draft for r in result.rounds] == ["draft 1", "draft 2"]
    assert [r.accepted for r in result.rounds] == [False, True]
    assert result.final_output == "draft 2"
    assert result.feedback == ["too long"]
    assert gen_model.remaining == 1  # no third draft was asked for
    eval_model.assert_done()
    assert eval_model.requests[0].input[-1].text == "Task: Write a slogan\n\nDraft:\ndraft 1"
    assert eval_model.requests[0].output.schema["properties"]["verdict"]["enum"] == [
        "accept",
        "revise",
    ]


async def test_it_stops_at_the_bound_and_the_generator_sees_all_the_feedback() -> None:
    generator, gen_model = scripted("Writer", "d1", "d2", "d3")
    evaluator, _ = scripted("Critic", revise("shorter"), revise("funnier"), revise("rhyme"))

    result = await refine(generator, evaluator, "Write a slogan", max_rounds=3)

    assert not result.accepted
    assert len(result.rounds) == 3 and result.final_output == "d3"
    assert result.feedback == ["shorter", "funnier", "rhyme"]
    assert gen_model.requests[0].input[-1].text == "Write a slogan"
    third = gen_model.requests[2].input[-1].text
    assert "Your previous draft:\nd2" in third
    assert "1. shorter\n2. funnier" in third
    gen_model.assert_done()


class Score(BaseModel):
    score: int
    comment: str


async def test_an_evaluator_with_its_own_type_is_read_by_the_given_functions() -> None:
    generator, _ = scripted("Writer", "d1", "d2")
    evaluator, _ = scripted(
        "Critic",
        Score(score=4, comment="weak verb"),
        Score(score=9, comment="good"),
        output_type=Score,
    )
    result = await refine(
        generator,
        evaluator,
        "Slogan",
        accepts=lambda s: s.score >= 8,
        feedback_of=lambda s: s.comment,
    )
    assert result.accepted and result.feedback == ["weak verb"]
    assert result.rounds[1].evaluation == Score(score=9, comment="good")


async def test_a_bound_below_one_is_a_user_error() -> None:
    generator, _ = scripted("Writer")
    with pytest.raises(UserError, match="max_rounds"):
        await refine(generator, generator, "x", max_rounds=0)


async def test_one_trace_with_a_span_per_round() -> None:
    generator, _ = scripted("Writer", "d1", "d2")
    evaluator, _ = scripted("Critic", revise("more"), ACCEPT)
    with recording_traces() as recorder:
        await refine(generator, evaluator, "x")
    tree = one_workflow(recorder, "Evaluator-optimizer")
    assert [t for t in tree if t[1] != "model"] == [
        (0, "custom", "Evaluator-optimizer"),
        (1, "custom", "round 1"),
        (2, "agent", "Writer"),
        (2, "agent", "Critic"),
        (1, "custom", "round 2"),
        (2, "agent", "Writer"),
        (2, "agent", "Critic"),
    ]
    rounds = [s for s in recorder.spans if s.name.startswith("round")]
    assert [s.attributes["accepted"] for s in sorted(rounds, key=lambda s: s.name)] == [
        False,
        True,
    ]
