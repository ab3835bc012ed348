"""Shared fixtures: the seed's stack config, as users write it."""

from __future__ import annotations

import copy
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
