"""A Plan as `crm configure` input (crmsh 4.4 syntax), for `crm configure load update -`."""

import re

_PLAIN = re.compile(r"[A-Za-z0-9_./:@%+,=-]+")


def render(plan):
    lines = []
    for rsc in plan.primitives:
        lines.append(f"primitive {rsc.id} {rsc.agent} \\")
        lines.append("    params " + " ".join(f"{name}={quote(value)}"
                                             for name, value in rsc.params) + " \\")
        for op in rsc.ops:
            role = f" role={op.role}" if op.role else ""
            lines.append(f"    op {op.name} interval={op.interval} timeout={op.timeout}{role} \\")
        lines[-1] = lines[-1][:-2]
    clone_id, child, meta = plan.clone
    lines.append(f"clone {clone_id} {child} \\")
    lines.append("    meta " + " ".join(f"{name}={value}" for name, value in meta))
    for gid, members in plan.groups:
        lines.append(f"group {gid} {' '.join(members)}")
    for cid, rsc, with_rsc, role in plan.colocations:
        lines.append(f"colocation {cid} inf: {rsc} {with_rsc}" + (f":{role}" if role else ""))
    for oid, first, first_action, then, then_action in plan.orders:
        lines.append(f"order {oid} Mandatory: {first}:{first_action} {then}:{then_action}")
    return "\n".join(lines) + "\n"


def quote(value):
    """A parameter value as crmsh reads it: double-quoted unless plain."""
    if _PLAIN.fullmatch(value):
        return value
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'
