"""Source record views and event parsers."""
