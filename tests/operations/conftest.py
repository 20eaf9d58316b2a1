from tests.scheduling.conftest import frozen_clock  # noqa: F401
