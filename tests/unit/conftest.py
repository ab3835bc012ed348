"""Shared fixtures: the seed's stack config, as users write it."""

from __future__ import annotations

import copy
import os
from pathlib import Path
from typing import Any

import pytest

from es_cluster import parse_stack_config, validate
from es_cluster.stack import config_from_file

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def seed_config() -> dict[str, Any]:
    """The dev stack's config (Pulumi.dev.yaml), a fresh copy per test."""
    return copy.deepcopy(config_from_file(ROOT / "Pulumi.dev.yaml"))


@pytest.fixture
def cluster_of(seed_config):
    """A validated cluster: the seed's config, after `change` edits the raw config."""

    def build(change=lambda raw: None):
        raw = copy.deepcopy(seed_config)
        change(raw)
        return validate(parse_stack_config(raw))

    return build


@pytest.fixture
def mocks():
    """Pulumi's mock runtime, recording every registration (test_component.RecordingMocks)."""
    import pulumi

    from .test_component import RecordingMocks

    m = RecordingMocks()
    pulumi.runtime.set_mocks(m, preview=False)
    return m


# Under mutmut (`make mutation`) each mutant runs the tests that reach the function it changes,
# stopping at the first failure, in whatever order mutmut lists them. Run the likeliest killers
# first: the test files named for the mutated module (the exact ones before the others), and the
# few slow files (the engine's mocks, Hypothesis, rendering whole stacks) last. A killed mutant
# then costs a second or two instead of half the suite; a survivor still runs every test.
SLOW_FILES = ("test_render.py", "test_component.py", "test_component_exact.py", "test_hostile_input.py", "test_config_properties.py")


def pytest_collection_modifyitems(config, items):
    mutant = os.environ.get("MUTANT_UNDER_TEST", "")
    if "__mutmut_" not in mutant:
        return
    module = mutant.split(".x", 1)[0].rsplit(".", 1)[-1]  # es_cluster.config.x_validate__mutmut_5 -> config

    def rank(item) -> tuple[int, int]:
        name = Path(str(item.fspath)).name
        if name in SLOW_FILES:
            return (2, 0)
        if name.startswith(f"test_{module}"):
            return (0, 0 if name.endswith("_exact.py") else 1)
        return (1, 0)

    items.sort(key=rank)
