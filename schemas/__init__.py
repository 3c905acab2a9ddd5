"""The single definition of what lipflow's records hold (feature keys, dtypes, shapes)."""
