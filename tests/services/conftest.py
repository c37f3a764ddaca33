"""Fixtures the ticket tests share: the running settings and one registered group."""

import pytest

from tests import factories as make


@pytest.fixture
def settings(runtime):
    return runtime.settings


@pytest.fixture
def group(session, clock):
    return make.group(session, clock)
