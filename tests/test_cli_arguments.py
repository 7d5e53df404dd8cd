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
    (["bench", "--devices", "1,two"], "argument --devices: 'two' is not a whole number"),
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
    assert parser.parse_args(["record"]).seeds == [0]


def test_workers_and_device_counts_parse_to_numbers():
    parser = cli.build_parser()
    assert parser.parse_args(["run"]).workers == "auto"
    assert parser.parse_args(["run", "--workers", "2"]).workers == 2
    assert parser.parse_args(["bench", "--devices", "1,2"]).devices == [1, 2]


def test_an_unknown_keras_backend_in_the_environment_is_a_clear_error(monkeypatch, capsys):
    monkeypatch.setenv("KERAS_BACKEND", "mxnet")
    assert cli.main(["run", "--examples", "ch02*"]) == 2
    assert "KERAS_BACKEND='mxnet' is not a backend this suite runs" in capsys.readouterr().err
