"""Checks of the settings users pass (the Bridge's knobs, ``RetryPolicy``): type and range, at construction.

A wrong setting must fail where it is written, with a message that names it, not at the first invocation
with the message of some inner option the user never set (issue 18, finding 7). Each check returns the
value as the code uses it; each message names the setting as written (``Bridge(per_key=...)``).
"""

from __future__ import annotations

import math
import operator

from streambridge._errors import ConfigurationError


def whole(what: str, value: object, *, minimum: int = 1, or_none: bool = False) -> int:
    """An int of at least ``minimum``; a bool or a float (even ``2.0``) is refused, not rounded.

    ``or_none``: the setting also takes None, which the caller handles (the message says so).
    """
    if not isinstance(value, (bool, float)):
        try:
            # int, and int-like types (numpy's) that cannot lose a fraction
            number = operator.index(value)  # type: ignore[arg-type]
        except TypeError:
            pass
        else:
            if number >= minimum:
                return number
    none = " or None" if or_none else ""
    raise ConfigurationError(f"{what} must be an int >= {minimum}{none}, got {value!r}{_kind(value)}")


def seconds(what: str, value: object, *, zero: bool = False) -> float:
    """A finite number of seconds, > 0 (or >= 0 with ``zero``); an int is taken, a bool is not."""
    wrong_type = isinstance(value, bool) or not isinstance(value, (int, float))
    try:
        number = math.nan if wrong_type else float(value)  # type: ignore[arg-type]  # an int or a float
    except OverflowError:  # an int too large for a float: not a finite number of seconds either
        number = math.inf
    if math.isfinite(number) and (number > 0 or (zero and number == 0)):
        return number
    bound = ">= 0" if zero else "> 0"
    raise ConfigurationError(
        f"{what} must be a number of seconds {bound}, got {value!r}{_kind(value) if wrong_type else ''}"
    )


def switch(what: str, value: object) -> bool:
    """True or False, nothing that is only truthy (``1``, ``"yes"``)."""
    if value is True or value is False:
        return value
    raise ConfigurationError(f"{what} must be True or False, got {value!r}{_kind(value)}")


def has_methods(value: object, *names: str) -> bool:
    """Whether ``value`` has a callable attribute for each of ``names`` (what a protocol will call)."""
    return all(callable(getattr(value, name, None)) for name in names)


def kind(value: object) -> str:
    """``a tuple``, ``an int``...: an object's type for a message, never its value (it may hold a secret)."""
    name = type(value).__name__
    return f"{'an' if name[:1].lower() in 'aeiou' else 'a'} {name}"


def _kind(value: object) -> str:
    """What to add after a wrong scalar's repr, so that the message says why it is wrong."""
    if value is None or (isinstance(value, int) and not isinstance(value, bool)):
        return ""
    if isinstance(value, float) and value.is_integer():
        return f" (a float: write {int(value)})"
    return f" ({kind(value)})"
