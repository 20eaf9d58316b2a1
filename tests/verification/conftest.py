from tests.scheduling.conftest import case, freelancer, frozen_clock, reps  # noqa: F401
