"""Shared test configuration: hypothesis profiles and optional-dependency helpers."""
import os

from hypothesis import HealthCheck, settings

settings.register_profile(  # derandomized: a CI run is reproducible; dev and thorough runs keep exploring
    "ci", max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow], derandomize=True
)
settings.register_profile(
    "dev", max_examples=50, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)
settings.register_profile(
    "thorough", max_examples=500, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci" if os.environ.get("CI") else "dev"))
