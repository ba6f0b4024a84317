"""What adaptation costs, computed rather than measured: the analytic training-memory model and the
recommendation of methods that fit a memory budget."""
