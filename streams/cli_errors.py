"""How every ``crmstream`` command reports a failure: one line on stderr, no traceback.

Exit codes: 2 when the command cannot run as asked (configuration, missing tools, bad
arguments), 1 when it ran and something outside it failed (e.g. Kafka refused the data).
"""

from __future__ import annotations

from typing import NoReturn

import typer

USAGE_ERROR = 2
RUN_ERROR = 1


def fail(message: str, code: int = USAGE_ERROR) -> NoReturn:
    typer.echo(f"crmstream: {message}", err=True)
    raise typer.Exit(code=code)
