"""fleetlab: the application — CLI, suite runner, reports and run history."""
