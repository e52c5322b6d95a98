"""The appliance: check-in logic, local store, web screens."""

__version__ = "0.1.0"
