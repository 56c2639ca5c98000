"""One example per command, shown under its ``--help`` (issue 17), kept together so they read
as one manual and a test can check that every command has one and that each still parses."""

from __future__ import annotations

import click

#: Command path (as typed after ``mailbot``) → example command lines, each starting "mailbot ".
EXAMPLES: dict[str, tuple[str, ...]] = {
    "": ("mailbot tickets list --overdue", "mailbot --config /etc/mailbot.toml check-config --connect"),
    "init": ("mailbot init",),
    "check-config": ("mailbot check-config --connect", "mailbot check-config --connect --json"),
    "health": ("mailbot health    (the container HEALTHCHECK)", "mailbot health --no-service --json"),
    "fetch": ("mailbot fetch --once", "mailbot fetch --once --json"),
    "run": ("mailbot run",),
    "send": ("mailbot send --once --json",),
    "deadlines": ("mailbot deadlines --once",),
    "digest": ("mailbot digest --dry-run", "mailbot digest --send --even-if-empty"),
    "quarantine": ("mailbot quarantine list",),
    "quarantine list": ("mailbot quarantine list --json",),
    "quarantine retry": ("mailbot quarantine retry 3",),
    "tickets": ("mailbot tickets list --due-within 24h",),
    "tickets list": (
        "mailbot tickets list --overdue",
        "mailbot tickets list --category access --due-within 2d --json",
    ),
    "tickets show": ("mailbot tickets show ORD-2026-00042",),
    "tickets reply": ("mailbot tickets reply ORD-2026-00042 --body-file answer.txt --as anna",),
    "tickets note": ("mailbot tickets note ORD-2026-00042 --body-file -   (the note from stdin)",),
    "tickets assign": ("mailbot tickets assign ORD-2026-00042 bram",),
    "tickets status": ("mailbot tickets status ORD-2026-00042 waiting",),
    "tickets close": ("mailbot tickets close ORD-2026-00042",),
    "tickets verify": ('mailbot tickets verify ORD-2026-00042 --method "phone call, known details"',),
    "tickets fulfil": ("mailbot tickets fulfil ORD-2026-00042",),
    "tickets reclassify": ("mailbot tickets reclassify ORD-2026-00042 complaint",),
    "tickets extend": (
        'mailbot tickets extend ORD-2026-00042 --months 2 --reason "Gegevens uit vier systemen."',
    ),
    "tickets pause": ("mailbot tickets pause ORD-2026-00042 --actor anna",),
    "tickets resume": ("mailbot tickets resume ORD-2026-00042 --json",),
    "tickets refuse": (
        'mailbot tickets refuse ORD-2026-00042 --partial --reason "Facturen: 7 jaar." --actor anna',
    ),
    "tickets hold": ('mailbot tickets hold ORD-2026-00042 --reason "dispute about invoice 2026-17"',),
    "tickets release": ("mailbot tickets release ORD-2026-00042",),
    "messages": ("mailbot messages list --automated",),
    "messages list": ("mailbot messages list --automated --json",),
    "classify": ("mailbot classify --json incoming/", "mailbot classify --report labels.csv corpus/w01"),
    "templates": ("mailbot templates check",),
    "templates check": ("mailbot templates check --dir ./letters --json",),
    "templates preview": ("mailbot templates preview ack_complaint en --html",),
    "rules": ("mailbot rules check",),
    "rules check": ("mailbot rules check --rules ./rules --json",),
    "customers": ("mailbot customers show jan@example.nl",),
    "customers import": ("mailbot customers import klanten.csv",),
    "customers show": ("mailbot customers show jan@example.nl --json",),
    "customers update": ('mailbot customers update jan@example.nl --phone "" --name "Jan de Vries"',),
    "customers export": ("mailbot customers export jan@example.nl --out ./exports --language en",),
    "customers erase": ("mailbot customers erase jan@example.nl --yes --json",),
    "customers restrict": ("mailbot customers restrict jan@example.nl",),
    "customers unrestrict": ("mailbot customers unrestrict jan@example.nl",),
    "suppression": ("mailbot suppression export --out suppressed.csv",),
    "suppression add": ("mailbot suppression add jan@example.nl",),
    "suppression export": ("mailbot suppression export --json",),
    "tasks": ("mailbot tasks list",),
    "tasks list": ("mailbot tasks list --json",),
    "tasks done": ("mailbot tasks done 3",),
    "audit": ("mailbot audit verify",),
    "audit verify": ("mailbot audit verify --json",),
    "retention": ("mailbot retention purge",),
    "retention purge": ("mailbot retention purge --json",),
    "keys": ("mailbot keys rotate",),
    "keys rotate": ("mailbot keys rotate", "mailbot keys rotate --resume"),
    "keys retire": ("mailbot keys retire 1",),
    "backup": ("mailbot backup create",),
    "backup create": ("mailbot backup create --no-offsite --json",),
    "backup verify": ("mailbot backup verify storage/backups/mailbot-20261207T023000Z",),
    "backup restore": ("mailbot backup restore --latest",),
    "backup list": ("mailbot backup list",),
    "model": ("mailbot model show",),
    "model train": ("mailbot model train --include-corrections",),
    "model evaluate": ("mailbot model evaluate --min-mean 0.9",),
    "model show": ("mailbot model show --json",),
    "staff": ("mailbot staff list",),
    "staff add": ("mailbot staff add anna@ordevos.nl --role admin",),
    "staff list": ("mailbot staff list --json",),
    "web": ("mailbot web --port 8080",),
}


def commands_of(group: click.Group, prefix: str = "") -> dict[str, click.Command]:
    """Every command and group under ``group`` by its path ("" is the root)."""
    found: dict[str, click.Command] = {prefix: group} if not prefix else {}
    for name, command in group.commands.items():
        path = f"{prefix} {name}".strip()
        found[path] = command
        if isinstance(command, click.Group):
            found.update(commands_of(command, path))
    return found


def add_examples(root: click.Group) -> None:
    """Put each command's examples in its help epilog (``\\b``: click keeps the lines as written)."""
    for path, command in commands_of(root).items():
        lines = EXAMPLES.get(path)
        if lines:
            label = "Example" if len(lines) == 1 else "Examples"
            command.epilog = "\b\n" + f"{label}:\n" + "\n".join(f"  {line}" for line in lines)
