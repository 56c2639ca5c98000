"""The classify benchmark's loop alone, for counting instructions under callgrind (see instructions.sh).

    classify_loop.py CORPUS MODE COUNT    MODE: setup (build messages, warm up, stop) | parse | full

Wall-clock figures on shared machines swing by a third; instruction counts repeat to the digit.
"""

from __future__ import annotations

import random
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_classify import REPO, _sources, _unique

from mailbot.adapters.rules_loader import load_ruleset
from mailbot.domain.model import Organisation
from mailbot.domain.rules import classify
from mailbot.mail.parse import UnparseableMail, parse_message


def main(corpus: str, mode: str, count: int) -> None:
    rng = random.Random(42)
    small, _ = _sources(corpus)
    messages = [_unique(small[i % len(small)], i, rng) for i in range(count)]
    ruleset = load_ruleset(REPO / "mailbot" / "defaults" / "rules")
    org = Organisation()
    for raw in small[:50]:  # warm-up: imports, regex compilation
        classify(parse_message(raw), ruleset, org)
    if mode == "setup":
        return
    for raw in messages:
        try:
            parsed = parse_message(raw)
        except UnparseableMail:
            continue
        if mode == "full":
            classify(parsed, ruleset, org)


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2], int(sys.argv[3]))
