"""The OCF resource agent ocf:hacontain:container, a thin layer over the runtime.

`install` writes the executable: a shell script (agent.sh) that answers the
depth-0 monitor's certain cases itself and runs `entry.run` for anything else.
`agent.main` reads the action and the OCF_RESKEY_* parameters, runs one
function per action and turns its outcome (or exception) into an OCF exit
code in one place (`codes`). Modules are imported per action.
"""
