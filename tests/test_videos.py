"""The one rule for what counts as a video, shared by the job (inference/) and preflight (tasks/)."""
from __future__ import annotations

from inference.frames import find_videos
from inference.labels import video_key
from inference.videos import VIDEO_EXTENSIONS, is_video_name, video_extension
from tasks.datastore.base import BlobInfo
from tasks.preflight.manifest import split_listing


def test_video_names_are_matched_by_extension_case_insensitively_either_slash():
    assert video_extension("dir/images_1_001.AVI") == ".avi"
    assert video_extension("c:\\data\\clip.Mp4") == ".mp4"
    assert is_video_name("images_1_001.avi") and is_video_name("x.ts")
    for name in ("groundtruth_labels.csv", "notes.txt", ".avi", "avi", "clip.avi.part", ""):
        assert not is_video_name(name), name
    assert video_key("dir/images_1_001.AVI") == "images_1_001"


def test_the_job_and_preflight_agree_on_a_folder(tmp_path):
    names = ["a.mp4", "b.AVI", "c.mkv", "labels.csv", "readme.md", "d.wmv"]
    for name in names:
        (tmp_path / name).write_bytes(b"x")
    job = [path.name for path in find_videos(tmp_path)]
    listing = [BlobInfo(name=name, size=1) for name in names]
    videos, _ = split_listing(listing, [".csv", ".tsv", ".md"])
    assert job == sorted(info.name for info in videos) == ["a.mp4", "b.AVI", "c.mkv", "d.wmv"]
    assert all(name.lower().endswith(VIDEO_EXTENSIONS) for name in job)
