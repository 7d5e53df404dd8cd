"""Multi-worker data parallelism through TensorFlow's own engine: two worker processes on
127.0.0.1 (MultiWorkerMirroredStrategy with TF_CONFIG) train a benchmark model a few steps
and must finish with the same losses and bit-identical weights."""

import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest

WORKER = Path(__file__).with_name("multiworker_worker.py")


def free_ports(count):
    sockets = [socket.socket() for _ in range(count)]
    try:
        for s in sockets:
            s.bind(("127.0.0.1", 0))
        return [s.getsockname()[1] for s in sockets]
    finally:
        for s in sockets:
            s.close()


@pytest.mark.nightly
@pytest.mark.slow
@pytest.mark.subprocess
def test_two_workers_finish_and_agree(tmp_path):
    ports = free_ports(2)
    cluster = {"worker": [f"127.0.0.1:{port}" for port in ports]}
    workers = []
    for index in range(2):
        env = {**os.environ, "TF_CONFIG": json.dumps({"cluster": cluster, "task": {"type": "worker", "index": index}}),
               "KERAS_BACKEND": "tensorflow", "TF_CPP_MIN_LOG_LEVEL": "2", "CUDA_VISIBLE_DEVICES": ""}
        log = open(tmp_path / f"worker{index}.log", "w")
        workers.append((subprocess.Popen([sys.executable, str(WORKER), str(tmp_path / f"worker{index}.json")],
                                         env=env, stdout=log, stderr=subprocess.STDOUT), log))
    try:
        codes = [process.wait(timeout=240) for process, _ in workers]
    finally:
        for process, log in workers:
            if process.poll() is None:
                process.kill()
            log.close()
    logs = "\n".join((tmp_path / f"worker{i}.log").read_text()[-3000:] for i in range(2))
    assert codes == [0, 0], logs
    results = [json.loads((tmp_path / f"worker{i}.json").read_text()) for i in range(2)]
    assert [r["task"] for r in results] == [0, 1]
    assert all(r["workers"] == 2 and r["replicas"] == 2 for r in results)
    assert results[0]["losses"] == results[1]["losses"] and len(results[0]["losses"]) == 4
    assert results[0]["weight_bytes_sha256"] == results[1]["weight_bytes_sha256"]
