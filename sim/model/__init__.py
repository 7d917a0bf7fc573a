"""The pure core shared by the simulator and the HIL runner: data and logic, no I/O."""
