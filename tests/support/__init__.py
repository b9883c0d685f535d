"""Test support: small real servers and stand-ins used by several test modules."""
