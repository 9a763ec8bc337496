"""facelead's web pages for the people in an investigation (see ``pages``)."""
