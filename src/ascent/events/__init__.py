"""Events: runs started by messages, lifecycle published as CloudEvents."""
