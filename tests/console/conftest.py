from tests.support.fixtures import admin, service  # noqa: F401
