"""Chunk planning for long programmes: whole shots grouped, long shots split with overlap."""

import numpy as np
import pytest

from pipelines.preprocess.chunks import Chunk, assign_words, centre_frames, plan_chunks


def test_shots_are_grouped_whole_and_a_long_shot_is_split_with_overlap():
    # Shots 0-99, 100-129, 130-399; chunks of at most 120 frames, 10 frames of overlap.
    chunks = plan_chunks(np.array([0, 100, 130]), 400, max_frames=120, margin=10)
    assert chunks == [
        Chunk(0, 100, 0, 100),
        Chunk(100, 130, 100, 130),
        Chunk(130, 260, 130, 250),   # the long shot: cores 130-249, 250-369, 370-399
        Chunk(240, 380, 250, 370),
        Chunk(360, 400, 370, 400),
    ]


def test_short_shots_share_a_chunk_up_to_its_length():
    chunks = plan_chunks(np.array([0, 30, 60, 90]), 120, max_frames=70, margin=5)
    assert chunks == [Chunk(0, 60, 0, 60), Chunk(60, 120, 60, 120)]


def test_each_word_belongs_to_the_chunk_holding_its_centre():
    chunks = plan_chunks(np.array([0, 100, 130]), 400, max_frames=120, margin=10)
    owners = assign_words(np.array([5, 99, 100, 131, 249, 250, 399]), chunks)
    assert [list(o) for o in owners] == [[0, 1], [2], [3, 4], [5], [6]]


def test_centre_frames_are_clamped_into_the_video():
    times = np.array([[0.71, 0.9], [-5.0, -4.0], [100.0, 101.0]])
    assert list(centre_frames(times, 25.0, 75)) == [20, 0, 74]


def test_bad_arguments_are_refused():
    with pytest.raises(ValueError):
        plan_chunks(np.array([0]), 0, max_frames=10, margin=0)
    with pytest.raises(ValueError):
        Chunk(10, 20, 5, 15)
