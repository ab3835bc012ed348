"""Engine profiles: what one family of Elasticsearch needs that the others do not, one module
per family (zen1: the field report's 2.x; zen2: Elasticsearch 7+; opensearch), each answering
the questions of `Profile`."""

from __future__ import annotations

from typing import TYPE_CHECKING

from . import opensearch, zen1, zen2
from .profile import Profile, Version, parse_version, show_version

if TYPE_CHECKING:
    from ..model import Engine

__all__ = ["PROFILES", "Profile", "Version", "for_version", "parse_version", "profile", "show_version", "supported"]

PROFILES: tuple[Profile, ...] = (zen1.PROFILE, zen2.PROFILE, opensearch.PROFILE)
DISTRIBUTIONS = ("elasticsearch", "opensearch")


def for_version(distribution: str, version: str) -> Profile | None:
    """The profile that deploys this distribution at this version, or None."""
    return next((p for p in PROFILES if p.distribution == distribution and version in p.versions), None)


def profile(engine: Engine) -> Profile:
    """The profile of a validated engine (config.py accepts only versions some profile has)."""
    found = for_version(engine.distribution, engine.version)
    if found is None:
        raise ValueError(f"no engine profile for {engine}")
    return found


def supported(distribution: str) -> tuple[str, ...]:
    """Every version of a distribution some profile deploys, oldest first."""
    versions = [v for p in PROFILES if p.distribution == distribution for v in p.versions]
    return tuple(sorted(versions, key=lambda v: parse_version(v) or (0, 0, 0)))
