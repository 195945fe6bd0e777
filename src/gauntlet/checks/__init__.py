"""Guarantee checks as library functions.

Suites call them and record what they measured; sabotage tests call the
same functions on a deliberately broken lab and expect ``GuaranteeViolated``.
Each function observes, decides, and raises with a message that names the
component, the node and the evidence.
"""
