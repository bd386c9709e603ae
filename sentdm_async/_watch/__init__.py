"""Watching messages until they finish: one scheduler, one budget, pushes and polls."""
