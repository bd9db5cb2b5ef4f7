"""Running ocf-tester, the resource-agents conformance check, on an agent.

ocf-tester checks meta-data with `xmllint --noout --valid -` against
ra-api-1.dtd, OCF 1.0's DTD, which rejects every OCF 1.1 agent (Pacemaker's
own Dummy included) and cannot be switched off. `ocf_1_1_path` makes a PATH
whose first xmllint runs that one check against the OCF 1.1 schema
(tests/ocf/ocf-1.1/ra-api.rng) instead; every other check is ocf-tester's own.
"""

import os
import subprocess

SCHEMA = os.path.join(os.path.dirname(__file__), "ocf-1.1", "ra-api.rng")


def ocf_1_1_path(folder):
    """PATH with an xmllint in `folder` that checks OCF 1.1 where ocf-tester asks for the DTD."""
    shim = os.path.join(folder, "xmllint")
    with open(shim, "w", encoding="utf-8") as handle:
        handle.write(
            "#!/bin/sh\n"
            "# ocf-tester's meta-data check, against OCF 1.1 instead of ra-api-1.dtd.\n"
            f'[ "$*" = "--noout --valid -" ] && '
            f"exec /usr/bin/xmllint --noout --relaxng {SCHEMA} -\n"
            'exec /usr/bin/xmllint "$@"\n')
    os.chmod(shim, 0o755)
    return f"{folder}:{os.environ['PATH']}"


def ocf_tester(agent, env, path, *options):
    """CompletedProcess of `ocf-tester OPTIONS AGENT` with `env` (less OCF_RESKEY_*, which
    ocf-tester sets from -o) and PATH `path`."""
    env = {key: value for key, value in env.items() if not key.startswith("OCF_RESKEY_")}
    env["PATH"] = path
    return subprocess.run(["ocf-tester", *options, agent], env=env, capture_output=True,
                          text=True, timeout=300)
