"""Shared test settings.

Hypothesis runs at least 200 examples per property test by default (the CI
profile); set HYPOTHESIS_PROFILE=dev for a quick local run.
"""

import os

from hypothesis import HealthCheck, settings

settings.register_profile("ci", max_examples=200, deadline=None,
                          suppress_health_check=[HealthCheck.too_slow])
settings.register_profile("dev", max_examples=25, deadline=None)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))
