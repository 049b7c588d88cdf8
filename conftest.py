"""Doctests run with ``np`` (NumPy) in their namespace, as the docstrings' examples assume."""
import numpy
import pytest


@pytest.fixture(autouse=True)
def _numpy_in_doctests(doctest_namespace):
    doctest_namespace["np"] = numpy
