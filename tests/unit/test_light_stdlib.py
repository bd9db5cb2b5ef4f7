"""hacontain's light stand-ins for json, shlex, signal and small regular expressions
(jsontext, chars, sys.signals) against the standard library they stand in for."""

import json
import shlex
import signal
import subprocess
import sys

import pytest

from hacontain import chars, jsontext
from hacontain.sys import signals

VALUES = [{"name": "web", "pid": 12, "start_time": 2 ** 40, "cgroup": {"v1": ["a", "b"]},
           "started_at": 1764350000.25, "holder": None, "foreground": False},
          [], {}, "é\n\"\\\u2028", -0.0, 1e300, 10 ** 30, [True, None, [[]]]]
BAD_JSON = ["", "  ", "{", '{"a": "x', '{"a" 1}', "[1,", "[1,]", "nul", "1 2", "\x00",
            '{"a": 1}x', "\ufeff{}", "{'a': 1}"]


@pytest.mark.parametrize("value", VALUES)
def test_jsontext_writes_and_reads_as_json_does(value):
    assert jsontext.dumps(value) == json.dumps(value)
    assert jsontext.loads(json.dumps(value)) == json.loads(json.dumps(value))
    assert jsontext.loads(f" \n{json.dumps(value)}\t") == value


@pytest.mark.parametrize("text", BAD_JSON)
def test_jsontext_refuses_what_json_refuses(text):
    with pytest.raises(ValueError):
        json.loads(text)
    with pytest.raises(ValueError):
        jsontext.loads(text)


def test_jsontext_refuses_bad_text_also_without_json_loaded():
    """The C codec names its errors with json.decoder's class only once that is loaded."""
    code = ("import sys; from hacontain import jsontext\n"
            "assert 'json.decoder' not in sys.modules, 'json was loaded: the case is not tested'\n"
            "for text in %r:\n"
            "    try:\n"
            "        jsontext.loads(text)\n"
            "    except ValueError:\n"
            "        continue\n"
            "    sys.exit('accepted ' + repr(text))\n" % (BAD_JSON,))
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr


def test_jsontext_refuses_what_json_cannot_hold():
    with pytest.raises(TypeError, match="not JSON serializable"):
        jsontext.dumps({"x": object()})


@pytest.mark.parametrize("text", ["/sbin/init", "  /bin/sh  -c  x ", "a\tb", "", " ",
                                  '/bin/sh -c "echo hi there"', "a\\ b", "it's'", "x\xa0y",
                                  "é ü", "a\nb", "a\x0bb"])
def test_shell_words_split_as_shlex(text):
    assert chars.shell_words(text) == shlex.split(text)


def test_shell_words_refuses_what_shlex_refuses():
    with pytest.raises(ValueError):
        chars.shell_words('"unclosed')


def test_made_of():
    assert chars.made_of("web-1", chars.ALNUM | {"-"}, first=chars.ALNUM, most=5)
    assert not chars.made_of("-web", chars.ALNUM | {"-"}, first=chars.ALNUM)
    assert not chars.made_of("web-12", chars.ALNUM | {"-"}, most=5)
    assert not chars.made_of("", chars.ALNUM)
    assert chars.made_of("", chars.ALNUM, least=0)
    assert not chars.made_of("١٢", chars.DIGITS), "ASCII digits only"
    assert chars.is_number("0042") and not chars.is_number("4 2") and not chars.is_number("")


def test_signal_names_and_numbers_as_the_signal_module_has_them():
    for sig in signal.Signals:
        assert signals.name_of(int(sig)) == sig.name
        assert signals.number_of(sig.name) == int(sig)
    assert signals.number_of("SIG_DFL") is None and signals.number_of("PWR") is None
    assert signals.number_of("SIGIOT") == signal.SIGABRT
    assert signals.name_of(0) is None
