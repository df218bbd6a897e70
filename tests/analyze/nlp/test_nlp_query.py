"""The question parser: a labelled list read exactly, and what it refuses to guess."""

from __future__ import annotations

import pytest
from questions import ENTITIES, KINDS, NOW, QUESTIONS, expected

from opscope.analyze.nlp.query import parse_question

PARSING_ACCURACY_FLOOR = 0.95


def _read(question: str) -> dict[str, object]:
    return parse_question(question, NOW, ENTITIES, set(KINDS.values())).structure()


def test_parsing_accuracy_on_the_labelled_questions(capsys: pytest.CaptureFixture[str]
                                                    ) -> None:
    wrong = [(q, _read(q), expected(want)) for q, want in QUESTIONS
             if _read(q) != expected(want)]
    accuracy = 1 - len(wrong) / len(QUESTIONS)
    with capsys.disabled():
        print(f"\nquestion parsing: exact match {len(QUESTIONS) - len(wrong)}/"
              f"{len(QUESTIONS)} = {accuracy:.3f}")
    detail = "\n".join(f"{q!r}\n  got  {got}\n  want {want}" for q, got, want in wrong)
    assert accuracy >= PARSING_ACCURACY_FLOOR, detail


@pytest.mark.parametrize(("question", "want"), QUESTIONS[:8], ids=[q for q, _ in QUESTIONS[:8]])
def test_the_documented_examples_read_exactly(question: str, want: dict[str, object]) -> None:
    assert _read(question) == expected(want)


def test_the_reading_is_said_in_words() -> None:
    reading = parse_question("critical alerts on checkout in the last 2 hours", NOW, ENTITIES)
    assert reading.describe() == ("I read this as: alerts, severity critical, entity checkout, "
                                  "from 2026-04-01 13:30 UTC to 2026-04-01 15:30 UTC.")
    assert reading.understood


def test_near_misses_are_taken_only_when_unambiguous() -> None:
    one = parse_question("alerts on chekout", NOW, ENTITIES)
    assert one.entities == ("checkout",) and "read 'chekout' as checkout" in one.notes
    two = parse_question("alerts on checkout-uk", NOW, ["checkout-eu", "checkout-us"])
    assert two.entities == () and two.not_understood == ("checkout-uk",)
    assert "'checkout-uk' could be checkout-eu or checkout-us: give the exact name" in two.notes
    assert not two.understood and "Not understood: 'checkout-uk'" in two.describe()
    far = parse_question("alerts on db-3", NOW, ENTITIES)
    assert far.entities == () and far.not_understood == ("db-3",)


def test_no_subject_is_not_understood() -> None:
    reading = parse_question("checkout yesterday", NOW, ENTITIES)
    assert reading.subject is None and not reading.understood
    assert reading.describe().startswith("I could not tell what to look for")


def test_an_impossible_time_is_reported() -> None:
    reading = parse_question("alerts since 25:00", NOW, ENTITIES)
    assert reading.start is None
    assert any("not a valid" in note for note in reading.notes)
