"""Leave-one-writer-set-out: the honest figure for mail the model was not trained on.

For every set: train on all the other sets, classify the held-out set through the production
decision (``classify_stateless`` with rules for structure and the model for words), and count.
Features are extracted once per message and shared by the folds, which keeps the whole run to
well under a minute on these machines.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass

from mailbot.adapters.text_model import TextModel, fit
from mailbot.adapters.training_corpus import LabelledSet
from mailbot.domain.classifier import ModelClassifier
from mailbot.domain.model import GDPR_CATEGORIES, Category, Classification, Organisation
from mailbot.domain.model_text import FeatureExtractor
from mailbot.domain.rules import RuleSet, classify_unparseable
from mailbot.domain.scoring import NO_ACK, decided_as_labelled
from mailbot.services.decide import classify_stateless


@dataclass(frozen=True)
class Mistake:
    """One held-out message decided otherwise than its label (file names only: no mail text)."""

    file: str
    expected: Category
    got: Category
    rule: str
    triage: bool


@dataclass(frozen=True)
class SetScore:
    name: str
    total: int
    right: int
    requests: int  # messages labelled as a rights request
    requests_found: int  # … classified as some rights request (the legal clock runs)
    requests_exact: int  # … classified as exactly that request
    requests_lost: int  # … filed as "other" without the triage flag (must be zero)
    auto_acked: int  # automated mail put in a category that is acknowledged (must be zero)
    confusion: Counter[tuple[Category, Category]]
    mistakes: tuple[Mistake, ...] = ()

    @property
    def accuracy(self) -> float:
        return self.right / self.total if self.total else 0.0


def score_set(labelled: LabelledSet, classify: ModelClassifier, org: Organisation) -> SetScore:
    confusion: Counter[tuple[Category, Category]] = Counter()
    mistakes: list[Mistake] = []
    right = requests = found = exact = lost = loops = 0
    for message in labelled.messages:
        result: Classification = (
            classify_stateless(message.parsed, classify, org)
            if message.parsed is not None
            else classify_unparseable("not mail")
        )
        expected = message.category
        correct = decided_as_labelled(expected, result, in_thread=message.in_thread)
        confusion[(expected, expected if correct else result.category)] += 1
        right += correct
        if not correct:
            mistakes.append(Mistake(message.file, expected, result.category, result.rule, result.triage))
        if expected in GDPR_CATEGORIES:
            requests += 1
            found += result.category in GDPR_CATEGORIES or correct  # or on its ticket, as secondary
            exact += correct
            lost += result.category is Category.OTHER and not result.triage
        if expected is Category.AUTOMATED and result.category not in NO_ACK:
            loops += 1
    return SetScore(
        labelled.name,
        len(labelled.messages),
        right,
        requests,
        found,
        exact,
        lost,
        loops,
        confusion,
        tuple(mistakes),
    )


def cross_validate(sets: Sequence[LabelledSet], ruleset: RuleSet, org: Organisation) -> list[SetScore]:
    """One score per set, each from a model that never saw that set."""
    extract = FeatureExtractor()
    features = [[(extract(text), category) for text, category in s.texts()] for s in sets]
    scores = []
    for held_out, labelled in enumerate(sets):
        train = [pair for i, pairs in enumerate(features) if i != held_out for pair in pairs]
        model: TextModel = fit([f for f, _ in train], [c for _, c in train])
        scores.append(score_set(labelled, ModelClassifier(ruleset, org, model), org))
    return scores


@dataclass(frozen=True)
class Summary:
    mean: float
    worst: SetScore
    request_recall: float
    requests_lost: int
    auto_acked: int


def summarise(scores: Sequence[SetScore]) -> Summary:
    requests = sum(s.requests for s in scores)
    return Summary(
        mean=sum(s.accuracy for s in scores) / len(scores),
        worst=min(scores, key=lambda s: s.accuracy),
        request_recall=sum(s.requests_found for s in scores) / requests if requests else 1.0,
        requests_lost=sum(s.requests_lost for s in scores),
        auto_acked=sum(s.auto_acked for s in scores),
    )
