"""Fencing for the test bed: a fence agent in the nodes and the power switch it talks to.

`fence_testbed` (laid over each node's /usr/sbin) writes a request file
into a directory of the run and waits for the answer. The harness's
FenceDevice thread is the power switch: it crashes (off), boots (on) or
power-cycles (reboot) the target node. A request from a node that is
already down is dropped, so of two nodes fencing each other the first
request served wins, as with a real shared switch.
"""

import json
import os
import threading
import time
from pathlib import Path

AGENT_NAME = "fence_testbed"
DEVICE_ID = "fence-testbed"

AGENT = r'''#!/usr/bin/python3
"""fence_testbed: asks the hacontain test bed's power switch to act on a node."""
import json, os, socket, sys, time

METADATA = """<?xml version="1.0" ?>
<resource-agent name="fence_testbed" shortdesc="Power switch of the hacontain test bed">
<longdesc>Writes a request into request_dir; the test harness crashes (off), boots (on) or power-cycles (reboot) the namespace node and answers.</longdesc>
<vendor-url>https://github.com/hacontain</vendor-url>
<parameters>
<parameter name="action" unique="0" required="0"><getopt mixed="-o, --action=[action]"/><content type="string" default="reboot"/><shortdesc lang="en">Fencing action</shortdesc></parameter>
<parameter name="plug" unique="0" required="0"><getopt mixed="-n, --plug=[node]"/><content type="string"/><shortdesc lang="en">Node to act on</shortdesc></parameter>
<parameter name="request_dir" unique="0" required="1"><getopt mixed="--request-dir=[dir]"/><content type="string"/><shortdesc lang="en">Directory the power switch watches</shortdesc></parameter>
<parameter name="timeout" unique="0" required="0"><getopt mixed="--timeout=[seconds]"/><content type="integer" default="60"/><shortdesc lang="en">Seconds to wait for the switch</shortdesc></parameter>
</parameters>
<actions>
<action name="on" automatic="0"/>
<action name="off"/>
<action name="reboot"/>
<action name="status"/>
<action name="monitor"/>
<action name="metadata"/>
</actions>
</resource-agent>
"""

def options():
    opts = {}
    if not sys.stdin.isatty():
        for line in sys.stdin:
            key, sep, value = line.strip().partition("=")
            if sep:
                opts[key] = value
    args = sys.argv[1:]
    for i, arg in enumerate(args):
        if arg in ("-o", "--action") and i + 1 < len(args):
            opts["action"] = args[i + 1]
        elif arg.startswith("--action="):
            opts["action"] = arg.split("=", 1)[1]
    return opts

def main():
    opts = options()
    action = opts.get("action") or opts.get("option") or "reboot"
    if action == "metadata":
        print(METADATA)
        return 0
    if action == "monitor":
        return 0 if os.path.isdir(opts.get("request_dir", "")) else 1
    target = opts.get("plug") or opts.get("port") or opts.get("nodename")
    if action not in ("on", "off", "reboot", "status") or not target:
        print(f"fence_testbed: unsupported action {action!r} or no plug", file=sys.stderr)
        return 1
    folder = opts["request_dir"]
    rid = f"{time.time_ns()}-{os.getpid()}"
    request = {"id": rid, "requester": socket.gethostname(), "target": target, "action": action}
    with open(os.path.join(folder, rid + ".tmp"), "w") as handle:
        json.dump(request, handle)
    os.rename(os.path.join(folder, rid + ".tmp"), os.path.join(folder, rid + ".req"))
    answer = os.path.join(folder, rid + ".ack")
    deadline = time.monotonic() + int(opts.get("timeout", 60))
    while time.monotonic() < deadline:
        if os.path.exists(answer):
            with open(answer) as handle:
                reply = json.load(handle)
            os.unlink(answer)
            if reply["message"]:
                print(reply["message"], file=sys.stderr)
            return reply["rc"]
        time.sleep(0.05)
    print(f"fence_testbed: no answer from the power switch in {folder}", file=sys.stderr)
    return 1

sys.exit(main())
'''


def install_agent(directory):
    """Write fence_testbed into `directory` (to be laid over a node's /usr/sbin)."""
    path = Path(directory) / AGENT_NAME
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(AGENT)
    path.chmod(0o755)
    return path


def device_xml(request_dir, node_names):
    """The CIB primitive of the fence device, able to fence every node."""
    return (
        f'<primitive id="{DEVICE_ID}" class="stonith" type="{AGENT_NAME}">'
        f'<instance_attributes id="{DEVICE_ID}-params">'
        f'<nvpair id="{DEVICE_ID}-request_dir" name="request_dir" value="{request_dir}"/>'
        f'<nvpair id="{DEVICE_ID}-pcmk_host_list" name="pcmk_host_list" '
        f'value="{" ".join(node_names)}"/>'
        '</instance_attributes>'
        f'<operations><op id="{DEVICE_ID}-monitor-60s" name="monitor" interval="60s"/></operations>'
        '</primitive>')


class FenceDevice:
    """The power switch: a thread serving fence_testbed requests on `cluster`.

    `history` lists every request served: (requester, action, target, rc).
    """

    def __init__(self, cluster, request_dir):
        self.cluster = cluster
        self.request_dir = Path(request_dir)
        self.history = []
        self._stop = threading.Event()
        self._thread = None

    def start(self):
        self.request_dir.mkdir(parents=True, exist_ok=True)
        self._thread = threading.Thread(target=self._serve_forever, name="fence-device", daemon=True)
        self._thread.start()

    def stop(self):
        if self._thread is not None:
            self._stop.set()
            self._thread.join()
            self._thread = None

    def _serve_forever(self):
        while not self._stop.is_set():
            for path in sorted(self.request_dir.glob("*.req")):
                self._serve(path)
            time.sleep(0.05)

    def _serve(self, path):
        request = json.loads(path.read_text())
        path.unlink()
        requester = self.cluster.node(request["requester"])
        if not requester.alive():
            return
        rc, message = self._act(request["action"], request["target"])
        self.history.append((request["requester"], request["action"], request["target"], rc))
        answer = self.request_dir / f"{request['id']}.ack"
        temp = answer.with_suffix(".acktmp")
        temp.write_text(json.dumps({"rc": rc, "message": message}))
        os.rename(temp, answer)

    def _act(self, action, target):
        try:
            node = self.cluster.node(target)
            if action == "status":
                return (0, "") if node.alive() else (2, f"{target} is off")
            if action in ("off", "reboot") and node.alive():
                self.cluster.crash(target)
            if action in ("on", "reboot"):
                self.cluster.start(target)
            return 0, ""
        except Exception as exc:  # the answer carries the failure to the fencer
            return 1, f"power switch: {action} {target} failed: {exc}"
