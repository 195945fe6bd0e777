"""Leader-election Leases of the scheduler and controller-manager."""
