"""The simulated world: a SimPy model of sites, uplinks, devices and the rollout controller."""
