"""Developer machine: `make run`. DEBUG on unless the environment says otherwise."""

import os

os.environ.setdefault("DEBUG", "true")

from .base import *

DEBUG = env_bool("DEBUG", True)
