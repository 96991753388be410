"""Errors raised by barometer: each names where the problem is and what to do about it."""

from __future__ import annotations


class BarometerError(ValueError):
    """Base class: a problem with the user's input or specification.

    ``where`` names the place (file, column, stratum, margin...), ``value`` the offending
    value and ``hint`` what to do. ``str()`` renders all three on one readable message.
    """

    def __init__(self, message: str, *, where: str = "", value: object = None, hint: str = ""):
        self.message = message
        self.where = where
        self.value = value
        self.hint = hint
        parts = [message]
        if where:
            parts.append(f"where: {where}")
        if value is not None:
            parts.append(f"value: {readable(value)!r}")
        if hint:
            parts.append(f"what to do: {hint}")
        super().__init__(" | ".join(parts))


class DesignError(BarometerError):
    """The sampling design is ill-specified (missing column, bad weight, lonely PSU...)."""


class EstimationError(BarometerError):
    """An estimate cannot be computed (empty domain, unknown level, bad CI rule...)."""


class CalibrationError(BarometerError):
    """Calibration cannot be done: bad margins, infeasible bounds, no convergence."""


def readable(value: object) -> object:
    """A value as the user wrote it: numpy scalars as Python numbers (83, not
    np.int64(83)), integral floats of a list as integers, containers element-wise."""
    if hasattr(value, "item") and getattr(value, "ndim", None) == 0:
        value = value.item()  # type: ignore[union-attr]
    if isinstance(value, list | tuple):
        return type(value)(readable(v) for v in value)
    return value
