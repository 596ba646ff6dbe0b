"""Staff edits of one issue, as library calls the console and a command line share: the
per-issue overrides file (pin, exclude, move, order of pins, edito, subject, preheader) and
a link added as a recap file."""
