"""A local HTTPS fake of the Azure ML REST surface (server), its scripted job lifecycles, and pytest fixtures."""
