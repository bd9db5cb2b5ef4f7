"""Reading Pacemaker's view of the cluster: `crm_mon --output-as=xml`, crm_failcount."""

import math
import xml.etree.ElementTree as ET
from dataclasses import dataclass

from hacontain.errors import HacontainError


@dataclass
class CrmStatus:
    """One `crm_mon --output-as=xml` snapshot, as seen from `via`."""
    via: str
    root: ET.Element

    @classmethod
    def parse(cls, via, text):
        try:
            return cls(via, ET.fromstring(text))
        except ET.ParseError as exc:
            raise HacontainError(
                f"{via}: crm_mon printed no valid XML ({exc}): {text[:200]!r}") from None

    def online(self):
        """Names of the nodes this partition sees online."""
        return {node.get("name") for node in self.root.iterfind("nodes/node")
                if node.get("online") == "true"}

    def standby(self):
        """Names of the nodes in standby."""
        return {node.get("name") for node in self.root.iterfind("nodes/node")
                if node.get("standby") == "true"}

    def has_quorum(self):
        dc = self.root.find("summary/current_dc")
        return dc is not None and dc.get("with_quorum") == "true"

    def started_on(self, rsc):
        """Nodes where resource `rsc` is Started (start done, not failed).

        For a group, the nodes where every member is Started; for a clone,
        every node with a started instance.
        """
        group = self.root.find(f"resources/group[@id='{rsc}']")
        if group is not None:
            members = [_started_nodes(r) for r in group.iterfind("resource")]
            return sorted(set.intersection(*members)) if members else []
        found = set()
        for element in self.root.iter("resource"):
            if element.get("id") == rsc or element.get("id", "").startswith(rsc + ":"):
                found |= _started_nodes(element)
        return sorted(found)

    def active_resources(self):
        """IDs of every primitive that is active somewhere (started, starting or stopping)."""
        return sorted({r.get("id") for r in self.root.iter("resource") if r.get("active") == "true"})

    def exec_ms(self, rsc, node, task="start"):
        """exec-time in ms of the last `task` operation of `rsc` on `node`, or None."""
        ops = self.root.findall(f"node_history/node[@name='{node}']/resource_history[@id='{rsc}']"
                                f"/operation_history[@task='{task}']")
        return int(ops[-1].get("exec-time").removesuffix("ms")) if ops else None

    def failures(self):
        """Failed actions, each a dict of crm_mon's attributes (op_key, node, exitreason...)."""
        return [dict(f.attrib) for f in self.root.iterfind("failures/failure")]


def _started_nodes(resource):
    if (resource.get("role") != "Started" or resource.get("failed") == "true"
            or resource.get("pending") is not None):
        return set()
    return {node.get("name") for node in resource.iterfind("node")}


def parse_failcount(text):
    """The value of `crm_failcount --query` output (`... value=N`); INFINITY is math.inf."""
    for word in text.split():
        if word.startswith("value="):
            value = word[len("value="):]
            return math.inf if value.upper() == "INFINITY" else int(value)
    raise HacontainError(f"crm_failcount printed no value: {text.strip()!r}")
