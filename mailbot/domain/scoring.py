"""Whether a decision is the one a labelled message asks for: the one rule every scorer uses
(``mailbot classify --report``, ``mailbot model evaluate``, the corpus tests).

Labellers write one fact two ways. The project's reference corpus labels a rights request or a
complaint made inside a ticket's thread as a *reply* with the request as secondary — it is
appended to that ticket, which staff answer (``d031``: "reply on a complaint ticket that adds a
deletion wish; still a reply; secondary verwijdering"). Independent writers often label the same
mail as the request itself and name the ticket in ``ticket_ref``. Both say: this mail belongs to
ticket T and asks for X. So a decision "reply, secondary X" meets the label "X in thread T"; a
reply that does not name X as its secondary does not (the request would go unseen).
"""

from __future__ import annotations

from mailbot.domain.model import GDPR_CATEGORIES, Category, Classification

#: Categories that never get an acknowledgement; automated mail outside them starts a loop.
NO_ACK: frozenset[Category] = frozenset({Category.AUTOMATED, Category.REPLY})
#: What a thread message may newly ask for that a reply carries as its secondary.
_ASKED_IN_THREAD = frozenset({*GDPR_CATEGORIES, Category.COMPLAINT})


def decided_as_labelled(expected: Category, result: Classification, *, in_thread: bool = False) -> bool:
    """True when ``result`` is what the label asks for; ``in_thread``: the label names a ticket."""
    if result.category is expected:
        return True
    return (
        in_thread
        and expected in _ASKED_IN_THREAD
        and result.category is Category.REPLY
        and result.secondary is expected
    )
