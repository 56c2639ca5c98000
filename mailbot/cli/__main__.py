"""``python -m mailbot.cli`` — the same as the ``mailbot`` console script."""

from mailbot.cli import main

main(prog_name="mailbot")
