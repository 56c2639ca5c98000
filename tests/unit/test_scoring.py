"""One rule for "decided as labelled", shared by every scorer: a request made inside a ticket's
thread is met by a reply carrying that request as its secondary (the reference corpus's d031),
and by nothing weaker."""

from __future__ import annotations

from mailbot.domain.model import Category, Classification
from mailbot.domain.scoring import decided_as_labelled

C = Category


def _reply(secondary: Category | None) -> Classification:
    return Classification(C.REPLY, "threading.subject-ref", 1.0, secondary=secondary)


def test_the_same_category_is_right_anywhere() -> None:
    assert decided_as_labelled(C.ERASURE, Classification(C.ERASURE, "model", 0.9))
    assert decided_as_labelled(C.REPLY, _reply(None), in_thread=True)
    assert not decided_as_labelled(C.ERASURE, Classification(C.ACCESS, "model", 0.9), in_thread=True)


def test_a_request_in_a_thread_is_met_by_a_reply_that_names_it() -> None:
    assert decided_as_labelled(C.ERASURE, _reply(C.ERASURE), in_thread=True)
    assert decided_as_labelled(C.COMPLAINT, _reply(C.COMPLAINT), in_thread=True)


def test_a_reply_that_misses_the_request_or_names_another_is_wrong() -> None:
    assert not decided_as_labelled(C.ERASURE, _reply(None), in_thread=True)
    assert not decided_as_labelled(C.ERASURE, _reply(C.OBJECTION), in_thread=True)


def test_outside_a_thread_a_reply_never_meets_a_request_label() -> None:
    assert not decided_as_labelled(C.ERASURE, _reply(C.ERASURE), in_thread=False)
    assert not decided_as_labelled(C.OTHER, _reply(C.OTHER), in_thread=True)
