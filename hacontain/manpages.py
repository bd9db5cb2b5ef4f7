"""Man pages (roff, section 1) generated from the click command tree of cli.py:
hacontain(1) with the global options and the command list, and
hacontain-COMMAND(1) for each command. The tree's objects are read through their
attributes, so click is still imported only by cli.py."""

import time

ENVIRONMENT = (
    ("HACONTAIN_LXCPATH", "The container directory when -P is not given "
                          "(default /var/lib/hacontain)."),
    ("HACONTAIN_CGROUP_PARENT", "The cgroup parent of the containers (default: hacontain "
                                "below the caller's own cgroup)."),
    ("HACONTAIN_RUNDIR", "Where the containers' state, locks and console logs live "
                         "(default /run/hacontain)."),
    ("HACONTAIN_DEBIAN_MIRROR", "The Debian mirror the debian templates bootstrap from "
                                "(default http://deb.debian.org/debian)."),
    ("HACONTAIN_CACHE", "Where the debian templates' rootfs tarballs are cached "
                        "(default /var/cache/hacontain)."),
)


def pages(group, name="hacontain"):
    """{file name: roff text} for `group` (cli.main) and each of its commands."""
    root = group.context_class(group, info_name=name, **group.context_settings)
    result = {f"{name}.1": _main_page(group, root, name)}
    for command_name, command in sorted(group.commands.items()):
        if not command.hidden:
            context = command.context_class(command, info_name=command_name, parent=root,
                                            **command.context_settings)
            result[f"{name}-{command_name}.1"] = _command_page(command, context, name)
    return result


def _main_page(group, context, name):
    lines = _header(name, group.get_short_help_str(limit=200))
    lines += [".SH SYNOPSIS", f".B {name}", r"[\fIOPTIONS\fR] \fICOMMAND\fR [\fIARGS\fR]..."]
    lines += [".SH DESCRIPTION"] + _paragraphs(group.help or "")
    lines += [".SH OPTIONS"] + _options(group, context)
    lines.append(".SH COMMANDS")
    for command_name, command in sorted(group.commands.items()):
        if not command.hidden:
            lines += [".TP", rf".B {_escape(command_name)}",
                      _escape(command.get_short_help_str(limit=300)),
                      rf"See \fB{name}\-{_escape(command_name)}\fR(1)."]
    lines.append(".SH ENVIRONMENT")
    for variable, meaning in ENVIRONMENT:
        lines += [".TP", rf".B {_escape(variable)}", _escape(meaning)]
    lines += [".SH SEE ALSO", r"\fBlxc\fR(7), \fBcrm\fR(8), \fBpcs\fR(8)"]
    return "\n".join(lines) + "\n"


def _command_page(command, context, name):
    full = f"{name}-{context.info_name}"
    lines = _header(full, command.get_short_help_str(limit=200))
    usage = " ".join(command.collect_usage_pieces(context))
    lines += [".SH SYNOPSIS", rf".B {name} {_escape(context.info_name)}", _escape(usage)]
    lines += [".SH DESCRIPTION"] + _paragraphs(command.help or "")
    lines += [".SH OPTIONS"] + _options(command, context)
    lines += [".SH SEE ALSO", rf"\fB{name}\fR(1)"]
    return "\n".join(lines) + "\n"


def _header(title, summary):
    date = time.strftime("%Y-%m-%d", time.gmtime())
    return [f'.TH {title.upper().replace("-", chr(92) + "-")} 1 "{date}" hacontain '
            '"hacontain manual"', ".SH NAME", rf"{_escape(title)} \- {_escape(summary)}"]


def _options(command, context):
    lines = []
    for param in command.get_params(context):
        record = param.get_help_record(context) if param.param_type_name == "option" else None
        if record is not None:
            lines += [".TP", rf"\fB{_escape(record[0])}\fR", _escape(record[1]) or r"\&"]
    return lines


def _paragraphs(text):
    """click help text as roff: blank-line paragraphs; a '\\b' paragraph kept as written."""
    lines = []
    for paragraph in text.strip().split("\n\n"):
        rows = [row.strip() for row in paragraph.strip().splitlines()]
        if rows and rows[0] == "\b":
            lines += [".PP", ".nf"] + [_escape(row) for row in rows[1:]] + [".fi"]
        elif rows:
            lines += [".PP", _escape(" ".join(rows))]
    return lines


def _escape(text):
    """Text as roff input: backslashes and hyphens escaped, no line starting a request."""
    text = str(text).replace("\\", r"\e").replace("-", r"\-")
    return r"\&" + text if text.startswith((".", "'")) else text
