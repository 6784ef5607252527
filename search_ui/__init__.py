"""The faces of newssearch: the command line and the web."""
