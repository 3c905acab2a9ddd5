"""Beam jobs of lipflow and their stages."""
