"""The memory-limited child process itself: a runaway allocation is caught, a clean error reported."""

from __future__ import annotations


def test_a_huge_allocation_is_stopped_by_the_limit(limited):
    result = limited("np.ones(10**10, dtype=np.uint8)", budget_mb=256)
    assert result.outcome == "memory"


def test_a_clean_error_is_reported_with_its_type(limited):
    result = limited("softmaxkit.softmax([1.0], axis=3)")
    assert result.raised("ValueError") and "axis 3 is out of bounds" in result.message


def test_normal_work_fits_in_the_budget(limited):
    result = limited("y = softmaxkit.softmax(np.ones((256, 1000), np.float32)); assert y.shape == (256, 1000)")
    assert result.outcome == "ok", result.message
