"""The files a test node's cluster stack starts from: corosync.conf, authkey, CIB.

All are written into a node's per-node directories before its first boot.
"""

import os
import subprocess
import xml.etree.ElementTree as ET

from hacontain.errors import CommandError


def corosync_conf(cluster_name, nodes, token_ms):
    """corosync.conf text for `nodes` [(nodeid, name, address)]: knet, crypto,
    two_node for two nodes, one key per line (corosync rejects more)."""
    lines = [
        "totem {",
        "    version: 2",
        f"    cluster_name: {cluster_name}",
        "    transport: knet",
        "    crypto_cipher: aes256",
        "    crypto_hash: sha256",
        f"    token: {token_ms}",
        "}",
        "logging {",
        "    to_stderr: yes",
        "    to_logfile: yes",
        "    logfile: /var/log/corosync/corosync.log",
        "    to_syslog: no",
        "    timestamp: hires",
        "}",
        "quorum {",
        "    provider: corosync_votequorum",
    ]
    if len(nodes) == 2:
        lines.append("    two_node: 1")
    lines += ["}", "nodelist {"]
    for nodeid, name, address in nodes:
        lines += ["    node {",
                  f"        ring0_addr: {address}",
                  f"        name: {name}",
                  f"        nodeid: {nodeid}",
                  "    }"]
    lines += ["}",
              "system {",
              "    sched_rr: no",
              "    move_to_root_cgroup: no",
              "}"]
    return "\n".join(lines) + "\n"


def write_authkey(path, key):
    """Write the shared corosync key, mode 0400."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o400)
    with os.fdopen(fd, "wb") as handle:
        handle.write(key)


def empty_cib():
    """`cibadmin --empty`: an empty CIB with this Pacemaker's schema version."""
    argv = ["cibadmin", "--empty"]
    proc = subprocess.run(argv, capture_output=True, text=True)
    if proc.returncode != 0:
        raise CommandError(argv, proc.returncode, proc.stderr)
    return proc.stdout


def seeded_cib(properties, rsc_defaults, primitives=()):
    """CIB XML with cluster `properties`, `rsc_defaults` and raw primitive XML strings."""
    root = ET.fromstring(empty_cib())
    config = root.find("configuration")
    _nvset(config.find("crm_config"), "cluster_property_set", "cib-bootstrap-options", properties)
    defaults = ET.SubElement(config, "rsc_defaults")
    _nvset(defaults, "meta_attributes", "rsc-options", rsc_defaults)
    resources = config.find("resources")
    for text in primitives:
        resources.append(ET.fromstring(text))
    return ET.tostring(root, encoding="unicode")


def cib_section(cib_text, tag):
    """The XML text of one configuration section (crm_config, resources...) of a CIB."""
    section = ET.fromstring(cib_text).find(f"configuration/{tag}")
    return ET.tostring(section, encoding="unicode")


def _nvset(parent, tag, set_id, values):
    nvset = ET.SubElement(parent, tag, id=set_id)
    for name, value in values.items():
        ET.SubElement(nvset, "nvpair", id=f"{set_id}-{name}", name=name, value=str(value))


def write_cib(path, text, uid, gid):
    """Write cib.xml owned by hacluster:haclient, mode 0600, as Pacemaker keeps it."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        handle.write(text)
    os.chown(path, uid, gid)
