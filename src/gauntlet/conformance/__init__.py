"""The Kubernetes project's own [Conformance] specs as a profile (CONF-01).

The upstream e2e binary of the target's server version is built from the
published module (``binary``), its specs are chosen by mode (``modes``)
and listed without running (``specs``), specs whose images the cluster
cannot have are set aside by name (``images``), the rest run under
ginkgo with progress (``runner``), and the results become one report
entry per spec, grouped by SIG (``results``). Nothing here knows the lab.
"""
