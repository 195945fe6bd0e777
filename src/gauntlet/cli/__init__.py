"""The ``gauntlet`` command line."""
