"""The method registry (methods.METHODS) agrees with every other table that names methods."""

from __future__ import annotations

import typing

from apga_sim import plots, theory
from apga_sim.methods import METHODS, MethodConfig
from apga_sim.scenario import set_path


def test_the_scenario_union_is_the_registry():
    union = typing.get_args(typing.get_args(MethodConfig)[0])
    assert set(union) == set(METHODS.values())


def test_plot_styles_name_only_registered_methods():
    assert set(plots.METHODS) <= set(METHODS)  # the others get the remaining colours
    labels = [label for label, _ in plots.METHODS.values()]
    colours = [colour for _, colour in plots.METHODS.values()]
    assert len(set(labels)) == len(labels) and len(set(colours)) == len(colours)


def test_complexity_formulas_are_for_registered_methods():
    assert set(theory.COMPLEXITY) <= set(METHODS)


def test_methods_m_sets_m_of_exactly_the_methods_that_have_m():
    data = {"methods": [{"name": name} for name in METHODS]}
    set_path(data, "methods.M", 7, "--set")
    has_m = {name for name, cls in METHODS.items() if "M" in cls.model_fields}
    assert {m["name"] for m in data["methods"] if m.get("M") == 7} == has_m
