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


def test_one_listing_rule_top_folder_only_video_extension_no_hidden_files():
    from inference.videos import HIDDEN, IN_SUB_FOLDER, NOT_A_VIDEO, job_reads, why_not_read

    assert job_reads("images_1_001.avi") and job_reads("clip.MP4")
    assert why_not_read("sub/images_1_001.avi") == IN_SUB_FOLDER
    assert why_not_read("._images_1_001.avi") == HIDDEN  # macOS AppleDouble: a resource fork, no video in it
    assert why_not_read("sub/._x.avi") == HIDDEN and why_not_read(".hidden.mp4") == HIDDEN
    assert why_not_read("labels.csv") == NOT_A_VIDEO and why_not_read("sub/notes.txt") == NOT_A_VIDEO


def test_the_job_and_preflight_read_the_same_files_of_a_folder_with_sub_folders_and_appledouble_files(tmp_path):
    """issue 11 item 6: preflight listed recursively and skipped '._' files while the job read the top folder and
    tried '._' files; now both apply inference.videos.job_reads, and preflight names what the job will not read."""
    from tasks.datastore.local import LocalFolder
    from tasks.preflight.manifest import videos_not_read

    for name in ["a.mp4", "b.avi", "._a.mp4", "._b.avi", "sub/c.avi", "sub/._c.avi", "labels.csv", ".hid/d.avi"]:
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_bytes(b"x")
    job = [path.name for path in find_videos(tmp_path)]
    listing = LocalFolder(tmp_path).list()
    videos, _ = split_listing(listing, [".csv", ".tsv", ".md"])
    assert job == [info.name for info in videos] == ["a.mp4", "b.avi"]
    skipped = {reason.split(":")[0].split(" (")[0]: sorted(names) for reason, names in videos_not_read(listing).items()}
    assert skipped == {"hidden": ["._a.mp4", "._b.avi", "sub/._c.avi"], "in a sub-folder": ["sub/c.avi"]}


def test_preflight_warns_about_the_videos_the_job_will_not_read(tmp_path):
    from flows.sample_data import make_sample_dataset
    from tasks.preflight import PreflightOptions, run_preflight

    data = make_sample_dataset(tmp_path / "videos", videos=2, seed=3, width=64, height=48, fps=10, seconds=1)
    (data.folder / "._images_1_001.avi").write_bytes(b"\x00\x05\x16\x07 AppleDouble")
    (data.folder / "more").mkdir()
    (data.folder / "more" / "extra.avi").write_bytes(data.videos[0].read_bytes())

    result = run_preflight(PreflightOptions(uri=str(data.folder), expected_count=2))

    assert result.passed and result.blocking == [], result.to_markdown()
    assert sorted(row["name"] for row in result.manifest) == sorted(path.name for path in data.videos)
    warned = {finding.id: finding.offending for finding in result.warnings}
    assert warned == {"hidden_video_files": ["._images_1_001.avi"], "videos_in_sub_folders": ["more/extra.avi"]}
    assert "will not be read by the job" in result.to_markdown()
