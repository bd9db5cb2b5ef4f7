"""The runtime's Container with the agent's parameters layered on its config.

Stopgap until the runtime takes these as arguments (see the agent's report):
Container(..., limits=...) and a halt signal for stop.
"""

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
