"""etcd: leader, member health and agreement."""
