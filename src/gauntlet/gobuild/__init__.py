"""Go programs built from published modules, cached by version.

Generic: the lab's binaries and the conformance suite's e2e binary are
both recipes (``GoBuild``) handed to ``ensure_built``.
"""
