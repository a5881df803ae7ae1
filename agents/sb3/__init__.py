"""Stable-Baselines3 algorithms behind our agent interface."""
