"""`lipflow predict`: read lips on a video, with the clip-cutting library and an export."""
