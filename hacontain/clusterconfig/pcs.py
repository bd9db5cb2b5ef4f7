"""A Plan as pcs commands (pcs 0.11). Against `cib_file` (`pcs -f FILE`), or, without
it, a script that edits a copy of the live CIB and pushes it in one step, so that no
resource starts before its constraints exist."""

import shlex


def render(plan, cib_file=None):
    pcs = ["pcs", "-f", cib_file if cib_file else "$cib"]
    commands = []
    grouped = {member: gid for gid, members in plan.groups for member in members}
    for rsc in plan.primitives:
        argv = ["resource", "create", rsc.id, rsc.agent]
        argv += [f"{name}={value}" for name, value in rsc.params]
        argv.append("op")
        for op in rsc.ops:
            argv += [op.name, f"interval={op.interval}", f"timeout={op.timeout}"]
            argv += [f"role={op.role}"] if op.role else []
        if rsc.id in grouped:
            argv += ["--group", grouped[rsc.id]]
        commands.append(argv)
        if rsc.id == plan.clone[1]:
            clone_id, child, meta = plan.clone
            commands.append(["resource", "promotable", child, clone_id] +
                            [f"{name}={value}" for name, value in meta if name != "promotable"])
    for cid, rsc, with_rsc, role in plan.colocations:
        commands.append(["constraint", "colocation", "add", rsc, "with"] +
                        ([role] if role else []) + [with_rsc, "INFINITY", f"id={cid}"])
    for oid, first, first_action, then, then_action in plan.orders:
        commands.append(["constraint", "order", first_action, first, "then", then_action, then,
                         "kind=Mandatory", f"id={oid}"])
    lines = [" ".join([*_quoted(pcs), *map(shlex.quote, argv)]) for argv in commands]
    if cib_file:
        return "\n".join(lines) + "\n"
    return "\n".join(["set -e", 'cib=$(mktemp)', 'trap \'rm -f "$cib"\' EXIT',
                      'pcs cluster cib "$cib"', *lines,
                      'pcs cluster cib-push "$cib" --config']) + "\n"


def _quoted(words):
    return ['"$cib"' if word == "$cib" else shlex.quote(word) for word in words]
