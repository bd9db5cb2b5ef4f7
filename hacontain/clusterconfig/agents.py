"""What the resource agents installed on this node accept: their parameters (which
must exist, which are required) and their advised action timeouts, read from their
meta-data as Pacemaker reads it (`crm_resource --show-metadata`)."""

import subprocess
import xml.etree.ElementTree as ElementTree

from hacontain.errors import NotInstalled, ParameterError
from hacontain.record import Record


class Agent(Record):
    name: str                      # ocf:PROVIDER:TYPE
    parameters: frozenset
    required: frozenset
    timeouts: dict                 # action name -> seconds, as the meta-data advises

    def check(self, params):
        """ParameterError/NotInstalled unless `params` (names) fit this agent."""
        unknown = sorted(set(params) - self.parameters)
        if unknown:
            raise NotInstalled(f"the installed {self.name} has no parameter {unknown[0]!r} "
                               "(resource agents too old?)")
        missing = sorted(self.required - set(params))
        if missing:
            raise ParameterError(f"the installed {self.name} requires parameter "
                                 f"{missing[0]!r}, which the stack does not give")

    def timeout(self, action, default=20):
        """The advised timeout of `action` as "Ns"."""
        return f"{self.timeouts.get(action, default)}s"


def load(name):
    """The Agent `name` (ocf:PROVIDER:TYPE) installed on this node."""
    return parse(name, metadata(name))


def metadata(name):
    """The meta-data XML of agent `name`."""
    try:
        result = subprocess.run(["crm_resource", "--show-metadata", name], capture_output=True,
                                text=True, timeout=60)
    except FileNotFoundError:
        raise NotInstalled("crm_resource not found: run this on a cluster node "
                           "(Debian: pacemaker-cli-utils)") from None
    if result.returncode != 0 or "<resource-agent" not in result.stdout:
        reason = (result.stderr.strip().splitlines() or ["no meta-data"])[0]
        raise NotInstalled(f"resource agent {name} is not installed on this node: {reason}")
    return result.stdout


def parse(name, text):
    """Agent of meta-data `text`."""
    try:
        root = ElementTree.fromstring(text)
    except ElementTree.ParseError as exc:
        raise NotInstalled(f"resource agent {name}: its meta-data is not XML ({exc})") from None
    parameters, required, timeouts = set(), set(), {}
    for parameter in root.iter("parameter"):
        parameters.add(parameter.get("name"))
        if parameter.get("required") in ("1", "true"):
            required.add(parameter.get("name"))
    for action in root.iter("action"):
        seconds = _seconds(action.get("timeout"))
        if seconds is not None and action.get("name") not in timeouts:
            timeouts[action.get("name")] = seconds
    return Agent(name=name, parameters=frozenset(parameters), required=frozenset(required),
                 timeouts=timeouts)


def _seconds(text):
    """Seconds of a meta-data timeout ("90", "90s", "2m"), None when absent or odd."""
    if not text:
        return None
    text = text.strip().lower()
    for suffix, factor in (("ms", 0.001), ("s", 1), ("m", 60), ("min", 60), ("h", 3600)):
        if text.endswith(suffix) and text[:-len(suffix)].isdigit():
            return max(1, int(int(text[:-len(suffix)]) * factor))
    return int(text) if text.isdigit() else None
