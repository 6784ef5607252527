"""The faces of newssearch: the command line and the web."""

import os

# numpy loads OpenBLAS, which starts a thread per core when it is imported (~40 ms of a
# cron run that adds a few articles); nothing in newssearch multiplies matrices.
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")


def create_app(config=None):
    """The web app (see search_ui.web); here so that ``flask --app search_ui run`` finds it."""
    from .web import create_app as make

    return make(config)
