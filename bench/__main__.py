"""Run every benchmark: ``python -m bench`` (``make bench``). Each prints ratios measured within
one run on this machine; none is a timed test."""

from bench import mujoco_steps, overhead, processes, rennala_naive, tuning

for module in (mujoco_steps, rennala_naive, processes, overhead, tuning):
    print(f"--- {module.__name__}")
    module.main()
