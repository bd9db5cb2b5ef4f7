"""The installed `hacontain` command's entry (see cli_install.py): `ls`, `info` and
`start`, the commands scripts loop over, run without loading click (whose import
costs more than the rest of the command). Every other command line, and any
form of these the table below does not describe (help, a bad value...), goes to
the click CLI in cli.py, which defines the same options."""

import sys

LXCPATH = ("-P", "--lxcpath")
# command -> (number of arguments, {option: (parameter, type; None for a flag)})
FAST = {
    "ls": (0, {"--json": ("as_json", None)}),
    "info": (1, {"--json": ("as_json", None)}),
    "start": (1, {"-t": ("timeout", float), "--timeout": ("timeout", float),
                  "--settle": ("settle", float)}),
}
START_DEFAULTS = {"timeout": 30.0, "settle": 0.5}     # cli.start's defaults


def run(argv):
    """Run the command line `argv` (without the program name); exits."""
    parsed = parse(argv)
    if parsed is None:
        from hacontain.cli import main
        main(args=argv, prog_name="hacontain")
        return
    command, arguments, options = parsed
    from hacontain.errors import HacontainError
    try:
        text = RUNNERS[command](*arguments, **options)
    except HacontainError as exc:
        sys.stderr.write(f"hacontain: error: {exc}\n")     # as cli._Group says it
        sys.exit(1)
    except KeyboardInterrupt:
        sys.stderr.write("hacontain: interrupted\n")
        sys.exit(130)
    if text is not None:
        sys.stdout.write(text + "\n")
        sys.stdout.flush()
    sys.exit(0)


def parse(argv):
    """(command, arguments, options) when `argv` is one of FAST's forms, -P/--lxcpath
    before or after the command; None for anything else."""
    import os
    options, words, index = {"lxcpath": None}, [], 0
    while index < len(argv):
        word, spec = argv[index], FAST.get(words[0], (0, {}))[1] if words else {}
        if word in LXCPATH or spec.get(word, (None, None))[1] is not None:
            if index + 1 == len(argv):
                return None
            name, kind = ("lxcpath", str) if word in LXCPATH else spec[word]
            try:
                options[name] = kind(argv[index + 1])
            except ValueError:
                return None
            index += 2
            continue
        if word in spec:
            options[spec[word][0]] = True
        elif word.startswith("-") or not word:
            return None
        else:
            words.append(word)
        index += 1
    if not words or words[0] not in FAST or FAST[words[0]][0] != len(words) - 1:
        return None
    options["lxcpath"] = options["lxcpath"] or os.environ.get("HACONTAIN_LXCPATH") or None
    return words[0], words[1:], options


def ls_text(lxcpath, as_json=False):
    """What `hacontain ls` prints."""
    from hacontain import cli_views
    rows = cli_views.ls_rows(lxcpath)
    return cli_views.to_json(rows) if as_json else cli_views.render_ls(rows)


def info_text(name, lxcpath, as_json=False):
    """What `hacontain info NAME` prints."""
    from hacontain import cli_views
    from hacontain.runtime.container import Container
    details = cli_views.info_details(Container(name, lxcpath))
    return cli_views.to_json(details) if as_json else cli_views.render_info(details)


def start_detached(name, lxcpath, timeout=START_DEFAULTS["timeout"],
                   settle=START_DEFAULTS["settle"]):
    """`hacontain start NAME` without -F."""
    container, config = with_notices(name, lxcpath)
    container.start(timeout=timeout, settle=settle, config=config)


def with_notices(name, lxcpath):
    """(Container, its parsed config), the config's notices printed on stderr."""
    from hacontain.runtime.container import Container
    container = Container(name, lxcpath)
    config = container.load_config()
    for warning in config.warnings:
        sys.stderr.write(f"hacontain: notice: {warning}\n")
    return container, config


RUNNERS = {"ls": ls_text, "info": info_text, "start": start_detached}
