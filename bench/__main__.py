"""Run every benchmark: ``python -m bench`` (``make bench``). Each prints ratios measured within
one run on this machine; none is a timed test."""

from bench import (
    async_end_to_end,
    mujoco_steps,
    overhead,
    per_step_waste,
    processes,
    rennala_naive,
    tuning,
)

for module in (
    mujoco_steps,
    async_end_to_end,
    rennala_naive,
    processes,
    overhead,
    per_step_waste,
    tuning,
):
    print(f"--- {module.__name__}")
    module.main()
