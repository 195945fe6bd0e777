"""Runs on a schedule inside the cluster: a CronJob and what it needs."""
