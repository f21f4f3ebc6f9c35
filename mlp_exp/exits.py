"""How mlp_exp's commands end on an error: one line on stderr and an exit code, no traceback, for the errors a user
can fix; Ctrl-C and SIGTERM's codes (130, 143) are interrupt.py's."""

from __future__ import annotations

import contextlib
import functools
import sys
import traceback
from collections.abc import Callable, Iterator
from typing import NoReturn, TypeVar

EXIT_USER_ERROR = 2  # a config, data, checkpoint or command line to change, or a dir in use: as argparse's usage errors
EXIT_DIVERGED = 3


class OneLineError(Exception):
    """An error a user can cause and fix (a config, data or checkpoint problem, a dir in use, divergence): the
    command ends with its message, which names the cause and the fix, in one line, and `exit_code`."""

    exit_code = EXIT_USER_ERROR


def exit_code_for(e: Exception) -> int | None:
    """The exit code of a OneLineError; None for anything else (a bug)."""
    return e.exit_code if isinstance(e, OneLineError) else None


def fail(problem: object, code: int = EXIT_USER_ERROR) -> NoReturn:
    """Ends the command with `error: PROBLEM` on stderr and `code`. From a Hydra callback too, where a raised
    exception would be turned into a mere warning."""
    print(f"error: {problem}", file=sys.stderr)
    raise SystemExit(code) from None


def fail_if_users_error(e: Exception) -> None:
    """Ends the command as `fail` does if `e` is a user's error: mlp_exp's (exit_code_for), or a config error of
    Hydra's or OmegaConf's (config_errors.one_line, exit 2). Returns for anything else, a bug."""
    from mlp_exp import config_errors  # imported here: it imports Hydra, which this module need not

    if (code := exit_code_for(e)) is not None:
        fail(e, code)
    if (message := config_errors.one_line(e, sys.argv[1:])) is not None:
        fail(message)


@contextlib.contextmanager
def ends_as_told(interrupted: Callable[[KeyboardInterrupt], NoReturn]) -> Iterator[None]:
    """Around a command's work: a Ctrl-C or SIGTERM, also one that Hydra or OmegaConf reported as an error of
    theirs, ends it through `interrupted`; a user's error in one line (fail_if_users_error); a bug as raised."""
    from mlp_exp import interrupt  # imported where used, as in ends_the_command: `import mlp_exp` imports this module

    try:
        yield
    except KeyboardInterrupt as e:
        interrupted(e)
    except Exception as e:
        if (stop := interrupt.hidden_in(e)) is not None:
            interrupted(stop)
        fail_if_users_error(e)
        raise


Method = TypeVar("Method", bound=Callable[..., None])


def ends_the_command(method: Method) -> Method:
    """For a Hydra callback's method: an exception it raises ends the command, as the command reports it (a user's
    error in one line, exit 2; a Ctrl-C that Hydra or OmegaConf reported as an error of theirs, as a Ctrl-C), or
    else with its traceback (a bug) and exit code 1. Hydra would turn it into a warning and go on without what the
    callback does: a sweep would write into a dir that holds another sweep, unrefused and unlocked."""

    @functools.wraps(method)
    def guarded(*args, **kwargs):
        from mlp_exp import interrupt

        try:
            return method(*args, **kwargs)
        except Exception as e:  # noqa: BLE001 - whatever the bug, Hydra must not go on past it
            if (stop := interrupt.hidden_in(e)) is not None:
                raise stop from None
            fail_if_users_error(e)
            traceback.print_exc()
            raise SystemExit(1) from None

    return guarded  # type: ignore[return-value]
