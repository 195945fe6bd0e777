"""Fault bookkeeping: every fault is recorded with its undo before it
happens, so that a crash or Ctrl-C never leaves a cluster broken."""
