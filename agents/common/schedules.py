"""Linear schedules over the training budget, shared by every agent that counts steps."""

from __future__ import annotations


def linear(start: float, end: float | None, progress: float, fraction: float = 1.0) -> float:
    """``start`` moving linearly to ``end`` over the first ``fraction`` of training, then held.

    ``end=None`` keeps ``start`` constant.
    """
    if end is None or fraction <= 0:
        return start if end is None else end
    return start + (end - start) * min(1.0, progress / fraction)


class Scheduled:
    """``progress`` (``num_steps / schedule_steps``) and the epsilon and step-size schedules read
    from the config fields ``epsilon``, ``epsilon_final``, ``exploration_fraction``,
    ``learning_rate`` (None: the agent picks its own step size) and ``learning_rate_final``.

    ``schedule_steps`` is the horizon the schedules are laid over: the budget of the first
    ``learn`` call (:meth:`start_schedule`). Training on past it holds the final values; assign
    a new ``schedule_steps`` to stretch the schedules instead.
    """

    schedule_steps: int | None = None

    def start_schedule(self, total_steps: int) -> None:
        """Fix the horizon at ``total_steps`` unless an earlier ``learn`` call fixed it."""
        if self.schedule_steps is None:
            self.schedule_steps = int(total_steps)

    @property
    def progress(self) -> float:
        return self.num_steps / self.schedule_steps if self.schedule_steps else 0.0

    @property
    def epsilon(self) -> float:
        c = self.config
        return linear(c.epsilon, c.epsilon_final, self.progress, c.exploration_fraction)

    @property
    def learning_rate(self) -> float | None:
        c = self.config
        if c.learning_rate is None:
            return None
        return linear(c.learning_rate, c.learning_rate_final, self.progress)
