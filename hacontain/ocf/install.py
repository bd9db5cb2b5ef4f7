"""Install the agent as <root>/usr/lib/ocf/resource.d/hacontain/container.

The installed agent is a /bin/sh script (agent.sh): the shell answers the
depth-0 monitor's certain cases without starting Python, and runs every
other action as hacontain.ocf.entry with this interpreter and `-SI`: no site
processing (which costs more than a whole depth-0 monitor) and nothing from
the environment (PYTHONPATH, user site). The directory holding the hacontain
package and its dependencies' site directories, which site processing would
have found, are written into the script instead. Works the same for a wheel
install and an editable one. Beside it goes the pack of the agent's modules
(codepack), which the Python half imports from while their sources are
unchanged.
"""

import os
import site
import sys

AGENT_DIR = "usr/lib/ocf/resource.d/hacontain"
AGENT_NAME = "container"
PACK = "usr/lib/ocf/lib/hacontain/agent-modules.pack"   # codepack: the agent's modules


def install_agent(root="/"):
    """Install the agent and the pack of its modules below `root`; the agent's path."""
    from hacontain.ocf import codepack
    pack = os.path.join(root, PACK)
    codepack.build(pack, os.path.join(package_parent(), "hacontain"))
    folder = os.path.join(root, AGENT_DIR)
    os.makedirs(folder, mode=0o755, exist_ok=True)
    target = os.path.join(folder, AGENT_NAME)
    temp = f"{target}.{os.getpid()}.tmp"
    with open(temp, "w", encoding="utf-8") as handle:
        handle.write(script(pack))
    os.chmod(temp, 0o755)
    os.rename(temp, target)
    return target


def script(pack=None):
    """The installed script: the shell's defaults and agent.sh, then the call of
    hc_agent, which answers or runs python_command(pack)."""
    import shlex
    from hacontain import paths
    python, flags, _, code = python_command(pack)
    header = {"PYTHON": python, "PYTHON_FLAGS": flags, "AGENT": code, "DEFAULT_LXCPATH": paths.DEFAULT_LXCPATH,
              "DEFAULT_RUNDIR": paths.DEFAULT_RUNDIR, "STATE_VERSION": str(paths.STATE_VERSION),
              "DEFAULT_CGROUP_PARENT": paths.DEFAULT_CGROUP_PARENT}
    with open(os.path.join(os.path.dirname(os.path.abspath(__file__)), "agent.sh"),
              encoding="utf-8") as handle:
        body = handle.read()
    return ("#!/bin/sh\n"
            "# ocf:hacontain:container, installed by `hacontain install-agent`.\n"
            + "".join(f"{key}={shlex.quote(value)}\n" for key, value in header.items())
            + body + 'hc_agent "$@"\n')


def python_command(pack=None):
    """The command line, less the action, of the Python agent the script runs:
    entry.run with the import path site processing would have found (-SI skips it)
    and the pack of its modules, `pack` (codepack)."""
    import json
    code = (f"import sys; sys.path.extend({json.dumps(search_path())}); "
            f"from hacontain.ocf.entry import run; run(sys.argv, {pack!r})")
    return [sys.executable, "-SI", "-c", code]


def search_path():
    """The directory holding hacontain, then its dependencies' site directories: what
    site processing would have found, for a script run with -S."""
    search = [package_parent()]
    return search + [path for path in _site_directories()
                     if os.path.isdir(path) and path not in search]


def _site_directories():
    """The site directories of this interpreter, also under -S (as the installed
    command runs), where site has not switched sys.prefix to the virtualenv."""
    venv = os.path.dirname(os.path.dirname(os.path.abspath(sys.executable)))
    config = os.path.join(venv, "pyvenv.cfg")
    if not os.path.isfile(config):
        return site.getsitepackages()
    version = f"python{sys.version_info[0]}.{sys.version_info[1]}"
    own = [os.path.join(venv, "lib", version, "site-packages")]
    with open(config, encoding="utf-8") as handle:
        settings = {key.strip(): value.strip() for key, _, value in
                    (line.partition("=") for line in handle)}
    if settings.get("include-system-site-packages", "false").lower() == "true":
        own += site.getsitepackages([sys.base_prefix])
    return own


def package_parent():
    """The directory holding the hacontain package."""
    import hacontain
    return os.path.dirname(os.path.dirname(os.path.abspath(hacontain.__file__)))
