"""OCF exit codes and the one mapping from exceptions to them."""

SUCCESS = 0
ERR_GENERIC = 1
ERR_ARGS = 2
ERR_UNIMPLEMENTED = 3
ERR_PERM = 4
ERR_INSTALLED = 5
ERR_CONFIGURED = 6
NOT_RUNNING = 7


class OcfExit(Exception):
    """Leave the agent with `code`; `reason` becomes the ocf-exit-reason line."""

    def __init__(self, code, reason=""):
        super().__init__(reason)
        self.code, self.reason = code, reason


def exit_code(exc, action, probe=False):
    """The OCF code for `exc` raised by `action` (probe: a monitor with interval 0).

    - ParameterError (a resource parameter, the same on every node, is
      wrong): 6, which stops the resource everywhere.
    - ConfigError (the container's config file on this node is wrong, or
      asks for what this host lacks: a bridge, a CPU, a cgroup file) and
      NotFound (the config, an included file, the rootfs or its init is
      missing here, e.g. the shared volume is not mounted): 2, "not valid on
      this node" in Pacemaker's words, which bans only this node.
    - NotInstalled (software or a kernel feature missing on this host): 5.
    - Anything else: 1, retried in place.
    On a probe every one of these says the container is not running here (7):
    5 or 6 from a probe stops the resource everywhere or fences. A stop that
    cannot even find its container has nothing left to stop (0).
    """
    if isinstance(exc, OcfExit):
        return exc.code
    from hacontain import errors
    if isinstance(exc, PermissionError):
        return ERR_PERM
    if isinstance(exc, (errors.ConfigError, errors.NotFound, errors.NotInstalled)):
        if action == "stop":
            return SUCCESS
        if action == "monitor" and (probe or isinstance(exc, errors.NotFound)):
            return NOT_RUNNING
    if isinstance(exc, errors.ParameterError):
        return ERR_CONFIGURED
    if isinstance(exc, (errors.ConfigError, errors.NotFound)):
        return ERR_ARGS
    if isinstance(exc, errors.NotInstalled):
        return ERR_INSTALLED
    return ERR_GENERIC
