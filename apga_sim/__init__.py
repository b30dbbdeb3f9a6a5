"""apga-sim: simulated wall-clock time-to-accuracy of distributed policy-gradient methods.

Load traces with :func:`load_run` (one run) or :func:`load_results` (all runs of a scenario).
"""

from apga_sim.scenario import Scenario, ScenarioError, load_scenario
from apga_sim.trace import load_results, load_run

__all__ = ["Scenario", "ScenarioError", "load_results", "load_run", "load_scenario"]
__version__ = "0.1.0"
