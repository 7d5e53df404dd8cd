"""Bad values on the command line are argparse errors that name the option, never a traceback.

In-process and fast: each case stops while the arguments are parsed."""

import pytest

from conformance import cli


@pytest.mark.parametrize("argv, message", [
    (["run", "--workers", "abc"], "argument --workers: 'abc' is not a whole number"),
    (["run", "--devices", "0"], "argument --devices: must be at least 1, got 0"),
    (["sensitivity", "--workers", "0"], "argument --workers: must be at least 1, got 0"),
    (["record", "--seeds", "0-x"], "argument --seeds: --seeds '0-x': give comma-separated integers or a range"),
    (["record", "--seeds", "1,1"], "give at least one seed, each once"),
    (["record", "--seeds", "4-1"], "the range ends before it starts"),
    (["record", "--seeds", "0-1-2"], "give comma-separated integers or a range like 0-4"),
    (["record", "--seeds", "0,2147483648"], "each seed must be from 0 to 2147483647"),
    (["record", "--seeds", "0-2147483647"], "2147483648 seeds; a sweep takes at most 1000"),  # refused before the list
    (["bench", "--devices", "1,two"], "argument --devices: 'two' is not a whole number"),
    (["run", "--examples", ""], "argument --examples: is empty"),  # an unset shell variable must not mean "all"
    (["run", "--examples", " , "], "argument --examples: is empty"),
    (["list", "--examples", ""], "argument --examples: is empty"),
    (["sensitivity", "--faults", ""], "argument --faults: is empty"),
    (["bench", "--models", ""], "argument --models: is empty"),
    (["run", "--seed", "-1"], "argument --seed: must be at least 0, got -1"),
    (["run", "--seed", "2147483648"], "argument --seed: must be at most 2147483647"),
    (["sensitivity", "--seed", "x"], "argument --seed: 'x' is not a whole number"),
    (["run", "--run-id", "../../escape"], "argument --run-id: run id '../../escape': use letters, digits"),
    (["run", "--run-id", "a/b"], "argument --run-id: run id 'a/b'"),
    (["bench", "--run-id", ".hidden"], "argument --run-id: run id '.hidden'"),
    (["bench", "--rounds", "0"], "argument --rounds: must be at least 1, got 0"),
    (["bench", "--warmup", "-1"], "argument --warmup: must be at least 0, got -1"),
    (["report", "--alpha", "2"], "argument --alpha: must be from 0 to 1, got 2.0"),
    (["report", "--alpha", "0"], "argument --alpha: must be above 0 and below 1, got 0.0"),
    (["report", "--min-change", "-1"], "argument --min-change: must be at least 0, got -1.0"),
    (["report", "--alpha", "nan"], "argument --alpha: 'nan' is not a finite number"),
    (["compare-stacks", "--a", "", "--b", "", "--timeout", "0"], "argument --timeout: must be above 0, got 0.0"),
    (["sensitivity", "--min-detection", "1.5"], "argument --min-detection: must be from 0 to 1, got 1.5"),
])
def test_a_bad_value_is_an_error_naming_the_option(argv, message, capsys):
    with pytest.raises(SystemExit) as exited:
        cli.build_parser().parse_args(argv)
    assert exited.value.code == 2
    assert message in capsys.readouterr().err


def test_record_takes_seeds_as_a_list_or_a_range():
    parser = cli.build_parser()
    assert parser.parse_args(["record", "--seeds", "0-4"]).seeds == [0, 1, 2, 3, 4]
    assert parser.parse_args(["record", "--seeds", "3,5"]).seeds == [3, 5]
    assert parser.parse_args(["record"]).seeds == [0, 1, 2, 3, 4]  # the fewest a recording may stand on


def test_workers_and_device_counts_parse_to_numbers():
    parser = cli.build_parser()
    assert parser.parse_args(["run"]).workers == "auto"
    assert parser.parse_args(["run", "--workers", "2"]).workers == 2
    assert parser.parse_args(["bench", "--devices", "1,2"]).devices == [1, 2]


def test_good_values_still_parse():
    parser = cli.build_parser()
    assert parser.parse_args(["run", "--seed", "2147483647", "--run-id", "nightly-2026.12_02"]).seed == 2**31 - 1
    assert parser.parse_args(["run", "--run-id", "keras-3.13.0.dev5+g1234abc-seed0"]).run_id.endswith("+g1234abc-seed0")
    assert parser.parse_args(["report", "--min-change", "1.5"]).min_change == 1.5  # a speed-up can exceed 100 %
    assert parser.parse_args(["report", "--alpha", "0.01", "--min-change", "0"]).alpha == 0.01
    assert parser.parse_args(["bench", "--warmup", "0", "--rounds", "1"]).warmup == 0


def test_a_missing_golden_folder_is_refused_before_anything_runs(tmp_path, capsys):
    assert cli.main(["run", "--examples", "ch02*", "--golden-dir", str(tmp_path / "nowhere"),
                     "--results-dir", str(tmp_path / "results")]) == 2
    assert f"error: no golden folder at {tmp_path / 'nowhere'}" in capsys.readouterr().err
    assert not (tmp_path / "results").exists()


def test_an_unknown_keras_backend_in_the_environment_is_a_clear_error(monkeypatch, capsys):
    monkeypatch.setenv("KERAS_BACKEND", "mxnet")
    assert cli.main(["run", "--examples", "ch02*"]) == 2
    assert "KERAS_BACKEND='mxnet' is not a backend this suite runs" in capsys.readouterr().err


def test_an_interrupted_command_says_so_and_exits_130_without_a_traceback(monkeypatch, capsys):
    def interrupted(args, passthrough):
        raise KeyboardInterrupt

    monkeypatch.setattr(cli, "_validate", interrupted)
    assert cli.main(["validate"]) == 130
    assert capsys.readouterr().err == "interrupted\n"


def test_a_run_on_an_accelerator_machine_never_splits_the_cpu_into_devices(monkeypatch):
    from conformance.engine import plugin
    from conformance.engine.runner import Settings

    machine = {"id": "cpu-x86_64-avx2-2c"}
    monkeypatch.setattr(plugin.profile, "fingerprint", lambda backend: machine)
    assert plugin.may_emulate_devices(Settings(devices=2))
    machine = {"id": "gpu-nvidia-h100-80gb-x1", "gpu": {"devices": [{"name": "NVIDIA H100 80GB HBM3"}]}}
    assert not plugin.may_emulate_devices(Settings(devices=2))
    machine = {"id": "tpu-v5e-2x2-x4", "tpu": {"generation": "v5e"}}
    assert not plugin.may_emulate_devices(Settings(devices=2))
    assert plugin.may_emulate_devices(Settings(devices=1))  # one device needs no emulation to refuse


@pytest.mark.subprocess  # two xdist workers
def test_a_run_cut_short_by_maxfail_is_not_taken_for_ctrl_c(tmp_path):
    (tmp_path / "test_two.py").write_text("def test_fails():\n    assert False\n\n\ndef test_passes():\n    pass\n")
    watch = cli._CtrlCWatch()
    status = pytest.main([str(tmp_path / "test_two.py"), "-n", "2", "-x", "-q", "-p", "no:cacheprovider",
                                 "--rootdir", str(tmp_path)], plugins=[watch])
    assert status == pytest.ExitCode.INTERRUPTED  # xdist's Interrupted, a KeyboardInterrupt subclass
    assert not watch.pressed
