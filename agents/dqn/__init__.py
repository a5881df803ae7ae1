"""Deep Q-learning: DQN and its extensions."""
