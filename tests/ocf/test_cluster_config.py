"""`hacontain cluster-config` offline: its crm input loaded into an empty CIB file
(`crm configure load update -` with CIB_file) and its pcs commands applied with
`pcs -f` (no --force), for one and for three containers; both pass `crm_verify -x`
and every primitive passes `crm_resource --validate`, but for the verdicts this host
explains by lacking what a cluster node has (no DRBD module, no VG, so no LV: those
checks run for real in the VM cluster tier). Bad input: one line on stderr."""

import os
import shutil
import subprocess
import xml.etree.ElementTree as ElementTree

import pytest

from clitools import hacontain, unique_name

pytestmark = pytest.mark.root

# Node-local verdicts (agent, exit code, words of its exit reason) and the condition of
# this host that explains each: anything else from validate-all fails the test.
HOST_LACKS = {
    "ocf:linbit:drbd": (5, "DRBD kernel (module) not available",
                        lambda vg: not os.path.exists("/proc/drbd")
                        and subprocess.run(["modinfo", "drbd"], capture_output=True).returncode),
    "ocf:heartbeat:LVM-activate": (1, "doesn't exist, or not visible on this node",
                                   lambda vg: subprocess.run(["vgs", vg], capture_output=True)
                                   .returncode),
    "ocf:hacontain:container": (2, "is not active on this node",
                                lambda vg: not os.path.exists(f"/dev/{vg}")),
}


@pytest.fixture
def stack(agent, lxcpath):
    """The VG and the names of four containers in LXCPATH: two on LVs of a VG this host
    lacks (one mounting another LV of it, by its /dev/mapper name), one a directory
    rootfs below LXCPATH, as if LXCPATH were a mounted LV, and one (not part of the
    stacks) that mounts a device off the VG."""
    vg = unique_name("vg")
    names = [unique_name("web"), unique_name("db")]
    for index, name in enumerate(names):
        (lxcpath / name).mkdir()
        (lxcpath / name / "config").write_text(
            f"lxc.rootfs.path = lvm:/dev/{vg}/{name}\n"
            "lxc.net.0.type = veth\nlxc.net.0.link = br0\n"
            f"lxc.net.0.ipv4.address = 192.0.2.{80 + index}/24\n")
    with open(lxcpath / names[1] / "config", "a", encoding="utf-8") as config:
        config.write(f"lxc.mount.entry = /dev/mapper/{vg}-dbdata srv ext4 defaults 0 0\n")
    local = unique_name("files")
    hacontain("create", local, "-t", "busybox", "-P", str(lxcpath))
    stray = unique_name("stray")
    (lxcpath / stray).mkdir()
    (lxcpath / stray / "config").write_text(f"lxc.rootfs.path = lvm:/dev/{vg}/{stray}\n"
                                            "lxc.mount.entry = /dev/sdc1 srv ext4 defaults 0 0\n")
    return vg, names + [local, stray]


def generate(lxcpath, names, vg, *extra):
    return hacontain("cluster-config", "-P", str(lxcpath), *names, "--drbd", "r0", "--vg", vg,
                     *extra).stdout


def empty_cib(path):
    """A CIB file without nodes, quorate (as a cluster loading the stack is)."""
    empty = subprocess.run(["cibadmin", "--empty"], capture_output=True, check=True).stdout
    path.write_bytes(empty.replace(b"<cib ", b'<cib have-quorum="1" ', 1))
    # No fence device in a file without nodes: the test's CIB, not the generator's.
    subprocess.run(["crm_attribute", "--type", "crm_config", "--name", "stonith-enabled",
                    "--update", "false"], env=dict(os.environ, CIB_file=str(path)), check=True,
                   capture_output=True)
    return path


def load_crm(cib, text):
    result = subprocess.run(["crm", "configure", "load", "update", "-"], input=text, text=True,
                            capture_output=True, env=dict(os.environ, CIB_file=str(cib)),
                            timeout=120)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "ERROR" not in result.stdout + result.stderr
    assert "WARNING" not in result.stderr.replace("Blind faith: not fencing unseen nodes", "")
    return cib


def load_pcs(cib, lxcpath, names, vg, *extra):
    script = generate(lxcpath, names, vg, *extra, "--pcs", "--cib-file", str(cib))
    assert "--force" not in script
    for line in script.splitlines():
        result = subprocess.run(["sh", "-ec", line], capture_output=True, text=True, timeout=120)
        assert result.returncode == 0, f"{line}\n{result.stderr}"
    return cib


def verify(cib):
    result = subprocess.run(["crm_verify", "-x", str(cib)], capture_output=True, text=True)
    assert (result.returncode, result.stdout + result.stderr) == (0, "")


def primitives(cib):
    """{id: (class:provider:type, {param: value})} of the CIB file's primitives."""
    found = {}
    for rsc in ElementTree.parse(cib).iter("primitive"):
        agent = f"{rsc.get('class')}:{rsc.get('provider')}:{rsc.get('type')}"
        params = {pair.get("name"): pair.get("value")
                  for attrs in rsc.iter("instance_attributes") for pair in attrs.iter("nvpair")}
        found[rsc.get("id")] = (agent, params)
    return found


def check_validate(cib, vg, by_option):
    """crm_resource --validate of every primitive: -r from the CIB file, or --class,
    --provider, --agent and --option; 0, or a verdict HOST_LACKS explains."""
    for rid, (agent, params) in primitives(cib).items():
        standard, provider, kind = agent.split(":")
        argv = ["crm_resource", "--validate"]
        if by_option:
            argv += ["--class", standard, "--provider", provider, "--agent", kind]
            argv += [f"--option={name}={value}" for name, value in params.items()]
        else:
            argv += ["-r", rid]
        result = subprocess.run(argv, capture_output=True, text=True, timeout=120,
                                env=dict(os.environ, CIB_file=str(cib)))
        output = result.stdout + result.stderr
        if result.returncode == 0:
            continue
        code, reason, host_lacks = HOST_LACKS.get(agent, (0, None, None))
        assert (result.returncode, reason and reason in output, bool(reason and host_lacks(vg))) \
            == (code, True, True), f"{rid} ({agent}): {output}"


def check_structure(cib, names):
    root = ElementTree.parse(cib).getroot()
    clone = root.find(".//clone")
    meta = {pair.get("name"): pair.get("value") for pair in clone.iter("nvpair")}
    assert {key: meta[key] for key in ("promotable", "promoted-max", "notify")} == \
        {"promotable": "true", "promoted-max": "1", "notify": "true"}
    monitors = [(op.get("role"), op.get("interval")) for op in clone.iter("op")
                if op.get("name") == "monitor"]
    assert sorted(role for role, _ in monitors) == ["Promoted", "Unpromoted"]
    assert len({interval for _, interval in monitors}) == 2
    on_promoted = [c for c in root.iter("rsc_colocation") if c.get("with-rsc-role") == "Promoted"]
    after_promote = [o for o in root.iter("rsc_order") if o.get("first-action") == "promote"]
    assert [(c.get("with-rsc"), c.get("score")) for c in on_promoted] == [(clone.get("id"),
                                                                          "INFINITY")]
    assert [(o.get("first"), o.get("then")) for o in after_promote] == \
        [(clone.get("id"), on_promoted[0].get("rsc"))]
    storage = on_promoted[0].get("rsc")
    containers = {pair.get("value") for rsc in root.iter("primitive")
                  if rsc.get("type") == "container" for pair in rsc.iter("nvpair")
                  if pair.get("name") == "name"}
    assert containers == set(names)
    follow = {c.get("rsc") for c in root.iter("rsc_colocation") if c.get("with-rsc") == storage}
    after = {o.get("then") for o in root.iter("rsc_order") if o.get("first") == storage}
    assert follow == after and len(follow) == len(names)


def shape(cib):
    """What crm and pcs must agree on: primitives with their parameters and ops, groups,
    the clone's meta, the constraints (pcs adds the agents' reload ops: not compared)."""
    root = ElementTree.parse(cib).getroot()
    ops = {rsc.get("id"): sorted((op.get("name"), op.get("interval"), op.get("timeout"),
                                  op.get("role") or "") for op in rsc.iter("op")
                                 if not op.get("name").startswith("reload"))
           for rsc in root.iter("primitive")}
    return (primitives(cib), ops,
            {g.get("id"): [p.get("id") for p in g.findall("primitive")]
             for g in root.iter("group")},
            {pair.get("name"): pair.get("value") for pair in root.find(".//clone/meta_attributes")},
            sorted((c.get("id"), c.get("rsc"), c.get("with-rsc"), c.get("with-rsc-role") or "",
                    c.get("score")) for c in root.iter("rsc_colocation")),
            sorted((o.get("id"), o.get("first"), o.get("first-action") or "start", o.get("then"),
                    o.get("then-action") or "start") for o in root.iter("rsc_order")))


def shape_of_bytes(xml, tmp_path):
    path = tmp_path / "copy.xml"
    path.write_bytes(xml)
    return shape(path)


def test_one_container_with_a_service_ip(stack, lxcpath, tmp_path):
    vg, names = stack
    text = generate(lxcpath, names[:1], vg, "--ip", "192.0.2.50/24")
    assert "ocf:heartbeat:IPaddr2" in text and "ip=192.0.2.50 cidr_netmask=24" in text
    crm_cib = load_crm(empty_cib(tmp_path / "crm.xml"), text)
    loaded = crm_cib.read_bytes()
    load_crm(crm_cib, text)                 # loading it again changes nothing
    assert shape(crm_cib) == shape_of_bytes(loaded, tmp_path)
    verify(crm_cib)
    check_structure(crm_cib, names[:1])
    check_validate(crm_cib, vg, by_option=False)
    pcs_cib = load_pcs(empty_cib(tmp_path / "pcs.xml"), lxcpath, names[:1], vg,
                       "--ip", "192.0.2.50/24")
    verify(pcs_cib)
    check_validate(pcs_cib, vg, by_option=True)
    assert shape(pcs_cib) == shape(crm_cib)


def test_three_containers_on_one_drbd_and_vg(stack, lxcpath, tmp_path):
    vg, names = stack
    names = names[:3]
    extra = ("--filesystem", f"/dev/{vg}/files:{lxcpath}:ext4", "--vg-access-mode", "tagging",
             "--ip", f"{names[0]}=192.0.2.50/24", "--ip", f"{names[2]}=192.0.2.52/24")
    text = generate(lxcpath, names, vg, *extra)
    assert text.count("ocf:hacontain:container") == 3 and text.count("ocf:linbit:drbd") == 1
    assert text.count("ocf:heartbeat:LVM-activate") == 1 and "vg_access_mode=tagging" in text
    # Grown from one container (as an admin adds some later): the update adds the rest.
    first = generate(lxcpath, names[:1], vg, "--vg-access-mode", "tagging",
                     "--ip", f"{names[0]}=192.0.2.50/24")
    crm_cib = load_crm(load_crm(empty_cib(tmp_path / "crm.xml"), first), text)
    verify(crm_cib)
    check_structure(crm_cib, names)
    check_validate(crm_cib, vg, by_option=False)
    pcs_cib = load_pcs(empty_cib(tmp_path / "pcs.xml"), lxcpath, names, vg, *extra)
    verify(pcs_cib)
    check_validate(pcs_cib, vg, by_option=True)
    assert shape(pcs_cib) == shape(crm_cib)
    fs = primitives(crm_cib)[f"fs_{vg}_files"]
    assert fs == ("ocf:heartbeat:Filesystem",
                  {"device": f"/dev/{vg}/files", "directory": str(lxcpath), "fstype": "ext4"})


def test_the_pcs_script_edits_a_copy_of_the_cib_and_pushes_it_once(stack, lxcpath, tmp_path):
    """The script for a live cluster, run against a CIB file standing in for it
    (pcs reads and pushes the CIB through cibadmin, which honours CIB_file)."""
    vg, names = stack
    script = generate(lxcpath, names[:1], vg, "--pcs")
    lines = script.splitlines()
    assert lines[:4] == ["set -e", "cib=$(mktemp)", "trap 'rm -f \"$cib\"' EXIT",
                         'pcs cluster cib "$cib"']
    assert lines[-1] == 'pcs cluster cib-push "$cib" --config'
    assert all(line.startswith('pcs -f "$cib" ') for line in lines[4:-1])
    live = empty_cib(tmp_path / "live.xml")
    scratch = tmp_path / "scratch"
    scratch.mkdir()
    result = subprocess.run(["sh"], input=script, text=True, capture_output=True, timeout=300,
                            env=dict(os.environ, CIB_file=str(live), TMPDIR=str(scratch)))
    assert result.returncode == 0, result.stderr
    assert "CIB updated" in result.stdout + result.stderr
    assert list(scratch.iterdir()) == []
    verify(live)
    crm_cib = load_crm(empty_cib(tmp_path / "crm.xml"), generate(lxcpath, names[:1], vg))
    assert shape(live) == shape(crm_cib)


@pytest.mark.parametrize("args, message", [
    (["nosuch", "--drbd", "r0", "--vg", "{vg}"],
     "container nosuch: no config {lxcpath}/nosuch/config"),
    (["{0}", "--vg", "{vg}"], "name the DRBD resource the VG is on with --drbd RESOURCE"),
    (["{0}", "--drbd", "r0"], "name the volume group on the DRBD device with --vg VG"),
    (["--drbd", "r0", "--vg", "{vg}"], "name at least one container"),
    (["{0}", "--drbd", "r 0", "--vg", "{vg}"], "invalid DRBD resource name 'r 0'"),
    (["{0}", "--drbd", "r0", "--vg", "other"],
     "{lxcpath}/{0}/config: rootfs lvm:/dev/{vg}/{0} is not an LV of VG other (--vg): it cannot "
     "follow the DRBD resource"),
    (["{2}", "--drbd", "r0", "--vg", "{vg}"],
     "{lxcpath}/{2}/config: rootfs {lxcpath}/{2}/rootfs is a directory: name the LV of VG {vg} "
     "mounted below it with --filesystem /dev/{vg}/LV:MOUNTPOINT:FSTYPE"),
    (["{0}", "{1}", "--drbd", "r0", "--vg", "{vg}", "--ip", "192.0.2.50/24"],
     "--ip 192.0.2.50/24: with several containers, say whose address it is: "
     "--ip NAME=ADDRESS/PREFIX"),
    (["{0}", "--drbd", "r0", "--vg", "{vg}", "--ip", "192.0.2.80/24"],
     "--ip 192.0.2.80/24: that is container {0}'s own address (lxc.net.0 in "
     "{lxcpath}/{0}/config): a service IP must be another"),
    (["{0}", "--drbd", "r0", "--vg", "{vg}", "--ip", "192.0.2.50"],
     "--ip 192.0.2.50: give the prefix length, e.g. 192.0.2.50/24"),
    (["{0}", "--drbd", "r0", "--vg", "{vg}", "--vg-access-mode", "lvmlockd"],
     "vg_access_mode 'lvmlockd': one of system_id, tagging"),
    (["{0}", "--drbd", "r0", "--vg", "{vg}", "--filesystem", "/dev/sdb1:/srv:ext4"],
     "--filesystem '/dev/sdb1:/srv:ext4': /dev/sdb1 is not an LV of VG {vg} (/dev/{vg}/LV)"),
    (["{0}", "--drbd", "r0", "--vg", "{vg}", "--filesystem", "/dev/{vg}/x:/srv"],
     "--filesystem '/dev/{vg}/x:/srv': expected DEVICE:DIRECTORY:FSTYPE, e.g. "
     "/dev/{vg}/data:/srv/data:ext4"),
    (["{0}", "{0}", "--drbd", "r0", "--vg", "{vg}"], "container {0} is named twice"),
    (["{0}", "--drbd", "r0", "--vg", "{vg}", "--cib-file", "x.xml"], "--cib-file goes with --pcs"),
    (["{3}", "--drbd", "r0", "--vg", "{vg}"],
     "{lxcpath}/{3}/config:2: lxc.mount.entry: mounts /dev/sdc1, which is not an LV of VG {vg}: "
     "it cannot follow the DRBD resource"),
])
def test_bad_input_gets_one_line(stack, lxcpath, args, message):
    vg, names = stack
    words = {"vg": vg, "lxcpath": lxcpath}
    result = hacontain("cluster-config", "-P", str(lxcpath),
                       *[arg.format(*names, **words) for arg in args], check=False)
    assert (result.returncode, result.stdout, result.stderr) == \
        (1, "", f"hacontain: error: {message.format(*names, **words)}\n")


def test_a_node_without_pacemakers_tools_is_told(stack, lxcpath):
    vg, names = stack
    result = hacontain("cluster-config", "-P", str(lxcpath), names[0], "--drbd", "r0", "--vg", vg,
                       check=False, env=dict(os.environ, PATH="/usr/bin:/bin"))
    assert shutil.which("crm_resource", path="/usr/bin:/bin") is None
    assert (result.returncode, result.stdout, result.stderr) == (
        1, "", "hacontain: error: crm_resource not found: run this on a cluster node "
               "(Debian: pacemaker-cli-utils)\n")


def test_an_agent_missing_here_is_named(agent):
    from hacontain.clusterconfig import agents
    from hacontain.errors import NotInstalled
    with pytest.raises(NotInstalled, match="resource agent ocf:heartbeat:NoSuchAgent is not "
                                           "installed on this node"):
        agents.load("ocf:heartbeat:NoSuchAgent")


def test_parameters_are_those_of_the_installed_agents(agent):
    """The agents' meta-data as installed: every parameter the generator sets exists."""
    from hacontain.clusterconfig import agents
    lvm = agents.load("ocf:heartbeat:LVM-activate")
    assert {"vgname", "vg_access_mode"} <= lvm.parameters
    drbd = agents.load("ocf:linbit:drbd")
    assert "drbd_resource" in drbd.required and drbd.timeout("start") == "240s"
    assert agents.load("ocf:hacontain:container").required == {"name"}


def test_a_parameter_the_installed_agent_lacks_is_refused(stack, lxcpath, monkeypatch):
    """An older agent without vg_access_mode (its meta-data as installed, less that
    parameter): refused, naming the agent and the parameter, nothing printed."""
    from hacontain.clusterconfig import agents, model, plan
    from hacontain.errors import NotInstalled
    vg, names = stack

    def older(name):
        found = agents.load(name)
        if name == plan.LVM:
            return found.replace(parameters=found.parameters - {"vg_access_mode"})
        return found

    built = model.describe(names[:1], "r0", vg, lxcpath=str(lxcpath))
    with pytest.raises(NotInstalled, match="the installed ocf:heartbeat:LVM-activate has no "
                                           "parameter 'vg_access_mode'"):
        plan.build(built, load=older)
