"""Train a supervised task (digits, MNIST-1D, the building's series; CNN, RNN, Transformer,
GAN, VAE). ``--help`` lists the options, ``--list-tasks`` the tasks; the logic lives in
:mod:`sige_rl.supervised.job`."""

import sys

from sige_rl.supervised.job import main

if __name__ == "__main__":
    sys.exit(main())
