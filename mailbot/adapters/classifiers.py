"""Which classifier runs: the rules alone, or the rules with the trained text model (issue 14).

Shared by the composition root (``bootstrap``) and ``mailbot classify``, so a folder scored on the
command line is read by exactly what production runs.
"""

from __future__ import annotations

import logging
from pathlib import Path

from mailbot.domain.classifier import Classifier, ModelClassifier, RulesClassifier
from mailbot.domain.model import Organisation
from mailbot.domain.rules import RuleSet

log = logging.getLogger(__name__)


def classifier_for(ruleset: RuleSet, org: Organisation, model_file: Path | None) -> Classifier:
    """Rules and model when ``model_file`` exists, else the rules alone (said in the log, and by
    ``check-config``: a missing model costs about fifteen points of accuracy on unseen writers).
    A damaged model file stops start-up with one line (ModelFileError): guessing is worse."""
    if model_file is None:
        return RulesClassifier(ruleset, org)
    from mailbot.adapters.text_model import load

    if not model_file.exists():
        log.debug("no text model at %s: the rules classify alone (mailbot model train builds it)", model_file)
        return RulesClassifier(ruleset, org)
    return ModelClassifier(ruleset, org, load(model_file))
