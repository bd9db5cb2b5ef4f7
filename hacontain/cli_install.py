"""`hacontain install-cli`: the fast `hacontain` command, bash completion, man pages.

The command is written over this environment's bin/hacontain (the script pip
made, which /usr/local/bin/hacontain links to): like the OCF agent it runs
with `-SI` and the import path written in (site processing and an editable
install's import finder cost more than `hacontain ls` itself), and enters
through cli_fast.
"""

import os
import sys

COMPLETION = "usr/share/bash-completion/completions/hacontain"
MAN_DIR = "usr/local/share/man/man1"


def command_script():
    from hacontain.ocf.install import search_path
    return (f"#!{sys.executable} -SI\n"
            '"""hacontain, installed by `hacontain install-cli`."""\n'
            "# -SI skips site processing; these paths stand in for it.\n"
            "import sys\n"
            f"sys.path.extend({search_path()!r})\n"
            "from hacontain.cli_fast import run\n"
            "run(sys.argv[1:])\n")


def default_command():
    """This environment's bin/hacontain."""
    return os.path.join(os.path.dirname(sys.executable), "hacontain")


def install(root, completion, pages, command=None):
    """Write the command (to `command`, default default_command()), `completion`
    (bash source) below `root` and `pages` ({file name: roff}) in root's man1;
    the paths written."""
    written = [_write(command or default_command(), command_script(), 0o755)]
    written.append(_write(os.path.join(root, COMPLETION), completion, 0o644))
    for name, text in sorted(pages.items()):
        written.append(_write(os.path.join(root, MAN_DIR, name), text, 0o644))
    return written


def _write(path, text, mode):
    """Write `text` to `path` atomically with `mode`, making its directory."""
    os.makedirs(os.path.dirname(path), mode=0o755, exist_ok=True)
    temp = f"{path}.{os.getpid()}.tmp"
    with open(temp, "w", encoding="utf-8") as handle:
        handle.write(text)
    os.chmod(temp, mode)
    os.rename(temp, path)
    return path
