"""The OCF resource agent ocf:hacontain:container, a thin layer over the runtime.

`entry.run` is the executable's body (`install` writes the script that calls
it): it answers a depth-0 monitor through `quickstatus` alone, anything else
through `agent.main`, which reads the action and the OCF_RESKEY_* parameters, runs one
function per action and turns its outcome (or exception) into an OCF exit
code in one place (`codes`). Modules are imported per action: a depth-0
monitor loads only the standard library's lightest modules.
"""
