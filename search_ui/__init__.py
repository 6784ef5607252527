"""The faces of newssearch: the command line and the web."""


def create_app(config=None):
    """The web app (see search_ui.web); here so that ``flask --app search_ui run`` finds it."""
    from .web import create_app as make

    return make(config)
