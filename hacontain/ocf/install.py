"""Install ocf/container as <root>/usr/lib/ocf/resource.d/hacontain/container.

The installed copy runs with this interpreter and `-SI`: no site processing
(which costs more than a whole depth-0 monitor) and nothing from the
environment (PYTHONPATH, user site). The path to the hacontain package and
to its dependencies' site directory, which site processing would have found,
are written into the script instead.
"""

import os
import site
import sys

from hacontain.errors import NotFound

AGENT_DIR = "usr/lib/ocf/resource.d/hacontain"
AGENT_NAME = "container"


def install_agent(root="/"):
    """Install the agent below `root`; the installed path."""
    source = agent_source()
    with open(source, encoding="utf-8") as handle:
        body = handle.read().split("\n", 1)[1]           # without its shebang
    folder = os.path.join(root, AGENT_DIR)
    os.makedirs(folder, mode=0o755, exist_ok=True)
    target = os.path.join(folder, AGENT_NAME)
    temp = f"{target}.{os.getpid()}.tmp"
    with open(temp, "w", encoding="utf-8") as handle:
        handle.write(header(source) + body)
    os.chmod(temp, 0o755)
    os.rename(temp, target)
    return target


def agent_source():
    """ocf/container of the source tree this hacontain package is in."""
    path = os.path.join(package_parent(), "ocf", AGENT_NAME)
    if not os.path.isfile(path):
        raise NotFound(f"the agent source {path} is missing: install hacontain from its "
                       "source tree (pip install -e)")
    return path


def package_parent():
    """The directory holding the hacontain package."""
    import hacontain
    return os.path.dirname(os.path.dirname(os.path.abspath(hacontain.__file__)))


def header(source):
    """The installed script's first lines: interpreter, flags and import path."""
    search = [package_parent()]
    search += [path for path in site.getsitepackages()
               if os.path.isdir(path) and path not in search]
    return (f"#!{sys.executable} -SI\n"
            f"# Installed by `hacontain install-agent` from {source}.\n"
            "# -SI skips site processing; these paths stand in for it.\n"
            "import sys\n"
            f"sys.path.extend({search!r})\n")
