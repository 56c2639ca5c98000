"""The rules and letters mailbot ships with, installed with the package (package data).

A company edits its own copies — ``cp -r $(python -c 'import mailbot.defaults as d; print(d.RULES)')
my-rules`` — and points ``[rules] dir`` / ``[templates] dir`` at them; without that setting these are
used, so ``mailbot`` works from any directory after ``pip install``.
"""

from pathlib import Path

HERE = Path(__file__).resolve().parent
RULES = HERE / "rules"
TEMPLATES = HERE / "templates"
