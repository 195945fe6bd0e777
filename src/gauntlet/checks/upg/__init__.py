"""UPG: is this cluster safe to upgrade to the target version?

One module per guarantee (``skew``, ``removed_apis``, ``etcd_backup``,
``drain``, ``baseline``, ``rehearsal``); ``settings`` holds what the run
passes in (target version, kept snapshot, baseline, upgrade command).
"""
