"""Job progress from predictions.jsonl, the ETA-aware poll schedule, and the job log forwarded line by line."""
import json
import logging

from flows.logs import JobLogTail
from tasks.backends.eta_poll import EtaPollSchedule
from tasks.backends.progress import Progress, ProgressReader, local_predictions, progress_from_lines
from tasks.clock import FakeClock


def line(video, seconds=2.0, error=None):
    return json.dumps({"video": video, "verdict": "no", "seconds": seconds, "error": error})


def test_progress_counts_done_and_failed_and_estimates_the_time_left():
    progress = progress_from_lines([line("a", 2.0), line("b", 4.0, error="decode"), '{"video": "c", "sec'], total=8)
    assert (progress.done, progress.failed, progress.total) == (2, 1, 8)
    assert progress.per_video_seconds == 3.0 and progress.eta_seconds == 18.0
    assert progress.fraction == 0.25
    assert progress.describe() == "2 of 8 videos done (1 failed), 3.0 s per video, about 18 s left"


def test_reader_ignores_a_half_written_last_line_and_ages_the_estimate(tmp_path):
    clock = FakeClock()
    reader = ProgressReader(local_predictions(tmp_path), total=4, now=clock.now)
    assert reader.read() is None, "no file yet: no progress"
    (tmp_path / "predictions.jsonl").write_text(line("a", 10.0) + "\n" + '{"video": "b"')
    assert reader.read().done == 1
    clock.sleep(12)
    aged = reader.read()
    assert aged.eta_seconds == 18.0, "30 s left when the first video was done, 12 s ago"


def schedule_for(progress, **kw):
    return EtaPollSchedule(progress=lambda: progress, **kw)


def test_schedule_waits_long_in_the_middle_and_polls_fast_near_the_end():
    middle = Progress(done=10, failed=0, total=100, per_video_seconds=60.0, eta_seconds=5400.0)
    near = Progress(done=99, failed=0, total=100, per_video_seconds=60.0, eta_seconds=8.0)
    finishing = Progress(done=100, failed=0, total=100, per_video_seconds=60.0, eta_seconds=0.0)
    assert schedule_for(middle)(30.0) == 300.0
    assert schedule_for(Progress(10, 0, 100, 60.0, 200.0))(30.0) == 100.0, "half the time left"
    assert schedule_for(near)(30.0) == 5.0
    assert schedule_for(finishing)(30.0) == 5.0


def test_schedule_backs_off_when_overdue_and_without_an_eta():
    overdue = Progress(done=50, failed=0, total=100, per_video_seconds=1.0, eta_seconds=0.0, overdue_seconds=1200.0)
    assert schedule_for(overdue)(30.0) == 300.0, "a stalled job costs few calls"
    waiting = schedule_for(None)
    intervals = [waiting(30.0) for _ in range(15)]
    assert intervals[0] == 2.0 and intervals[-1] == 120.0 and intervals == sorted(intervals)


class _Records(logging.Handler):
    def __init__(self):
        super().__init__(logging.DEBUG)
        self.records: list[logging.LogRecord] = []

    def emit(self, record):
        self.records.append(record)


def _private_logger(name: str) -> tuple[logging.Logger, _Records]:
    """A logger of this test's own, not propagating, so handlers other tests attached elsewhere cannot add records."""
    logger = logging.getLogger(name)
    logger.handlers[:] = []
    logger.propagate = False
    logger.setLevel(logging.INFO)
    seen = _Records()
    logger.addHandler(seen)
    return logger, seen


def test_job_log_lines_are_forwarded_once_each(tmp_path):
    log = tmp_path / "std_log.txt"
    log.write_text("model loaded in 1.2s\n[1/2] a.avi 0.5s no\npartial")
    logger, seen = _private_logger("ghostwatch.test.forward-once")
    tail = JobLogTail(log, logger)
    assert tail.forward() == 2
    with open(log, "a") as f:
        f.write(" line\nERROR: no videos\n")
    assert tail.forward() == 2
    messages = [r.getMessage() for r in seen.records]
    assert messages == ["job | model loaded in 1.2s", "job | [1/2] a.avi 0.5s no", "job | partial line",
                        "job | ERROR: no videos"]
    assert seen.records[-1].levelno == logging.ERROR


def test_job_log_lines_are_redacted_before_they_reach_the_logs(tmp_path, caplog):
    log = tmp_path / "std_log.txt"
    log.write_text("connecting with DefaultEndpointsProtocol=https;AccountName=a;AccountKey=c2VjcmV0LWtleQ==;\n")
    with caplog.at_level(logging.INFO, logger="ghostwatch.test"):
        JobLogTail(log, logging.getLogger("ghostwatch.test")).forward()
    assert "c2VjcmV0LWtleQ==" not in caplog.text and "AccountName=a" in caplog.text


def test_progress_is_read_from_an_output_datastore_once_it_exists(tmp_path):
    """An Azure ML job's output folder is a datastore path: opened when it exists, then read at each poll."""
    from tasks.backends.progress import datastore_predictions
    from tasks.datastore.local import LocalFolder

    opened = []

    def open_store():
        opened.append(1)
        return LocalFolder(tmp_path) if (tmp_path / "predictions.jsonl").exists() or len(opened) > 1 else None

    read = datastore_predictions(open_store)
    assert read() is None, "nothing written yet: no store"
    assert read() is None, "the store, but no predictions yet"
    (tmp_path / "predictions.jsonl").write_text(line("a") + "\n")
    assert read().count("\n") == 1 and len(opened) == 2, "the store is opened once, then read"
