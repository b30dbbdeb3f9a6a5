"""Aggregators (how gradients are gathered in time) and optimizers (how they update theta)."""
