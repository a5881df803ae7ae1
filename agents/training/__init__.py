"""The training job and its command-line front ends: train, evaluate, record."""
