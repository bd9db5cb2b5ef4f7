"""The runtime's Container with what the agent needs on top of it.

Stopgap until the runtime has these (see the agent's report): limits and a
halt signal as arguments, and the cleanup of a cgroup that a start killed
before it recorded any state left behind.
"""

from hacontain import paths
from hacontain.errors import HacontainError
from hacontain.runtime import state as statefile
from hacontain.runtime.cgroups import open_cgroup
from hacontain.runtime.container import Container


class ResourceContainer(Container):
    """A Container whose limit parameters follow the config's cgroup keys (so
    start checks and writes them before the init runs, the later value
    winning) and whose halt_signal parameter, when set, replaces the config's."""

    def __init__(self, name, lxcpath=None, config_path=None, limits=(), halt_signal=None):
        super().__init__(name, lxcpath, config_path)
        self.extra_limits = list(limits)
        self.halt_override = halt_signal

    def _limits(self, config):
        return super()._limits(config) + self.extra_limits

    def _halt_signal(self, record):
        return self.halt_override or super()._halt_signal(record)

    def stop(self, timeout=30.0, kill=False):
        """The runtime's stop, then the removal of an orphan cgroup (see orphan_cgroup)."""
        outcome = super().stop(timeout, kill)
        with statefile.Lock(self.name):
            cgroup = self.orphan_cgroup()
            if cgroup is not None:
                self._empty_and_remove(cgroup)
        return outcome

    def orphan_cgroup(self):
        """The container's cgroup when no state records it, else None.

        A start killed (with its process group, on a timeout) after making
        the cgroup but before writing the state leaves it: its processes exit
        on their own once the start is gone, the directories stay.
        """
        if self.status().present:
            return None
        try:
            configured = self.load_config().cgroup_parent
        except HacontainError:
            configured = None
        cgroup = open_cgroup(self.name, paths.cgroup_parent(configured))
        return cgroup if cgroup.exists() else None
