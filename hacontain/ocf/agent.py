"""The agent's entry point: pick the action, run it, turn the outcome into an
OCF exit code, print the exit reason of every non-zero exit."""

from hacontain.ocf import log
from hacontain.ocf.codes import ERR_ARGS, ERR_UNIMPLEMENTED, NOT_RUNNING, SUCCESS, OcfExit
from hacontain.ocf.params import Params, is_probe

# action -> (module, function); modules are imported only for their action.
ACTIONS = {
    "start": ("hacontain.ocf.actions", "start"),
    "stop": ("hacontain.ocf.actions", "stop"),
    "monitor": ("hacontain.ocf.monitor", "monitor"),
    "reload-agent": ("hacontain.ocf.actions", "reload"),
    "reload": ("hacontain.ocf.actions", "reload"),          # its pre-OCF-1.1 name
    "validate-all": ("hacontain.ocf.actions", "validate_all"),
    "meta-data": ("hacontain.ocf.actions", "meta_data"),
    "usage": ("hacontain.ocf.actions", "usage"),
    "migrate_to": ("hacontain.ocf.actions", "migrate"),
    "migrate_from": ("hacontain.ocf.actions", "migrate"),
}


def main(argv):
    """Run the action named in argv[1]; the exit code."""
    if len(argv) != 2:
        log.exit_reason("expected exactly one action argument (see usage)")
        return ERR_ARGS
    action = argv[1]
    if action not in ACTIONS:
        log.exit_reason(f"action {action} is not implemented")
        return ERR_UNIMPLEMENTED
    module, function = ACTIONS[action]
    try:
        handler = getattr(__import__(module, fromlist=[function]), function)
        return handler(Params())
    except BaseException as exc:             # every failure becomes a code and a reason
        return _failed(exc, action)


def _failed(exc, action):
    from hacontain.errors import HacontainError
    from hacontain.ocf.codes import exit_code
    code = exit_code(exc, action, is_probe(action))
    if isinstance(exc, OcfExit):
        reason = exc.reason
    elif isinstance(exc, (HacontainError, OSError)):
        reason = str(exc)
    elif isinstance(exc, KeyboardInterrupt):
        reason = "interrupted"
    else:
        import traceback
        log.log("err", "".join(traceback.format_exception(exc)).rstrip())
        reason = f"internal error: {type(exc).__name__}: {exc}"
    if code == SUCCESS:
        log.log("info", f"{action}: {reason}: nothing to do")
    elif code == NOT_RUNNING:
        log.exit_reason(reason, level="debug")
    else:
        log.exit_reason(reason)
    return code
