"""Operations: checks an operator runs on a deployment before trusting it (``campaign doctor``)."""

from engine.ops.doctor import Check, Level, diagnose

__all__ = ["Check", "Level", "diagnose"]
