"""The VM test tier: small Debian VMs under qemu (TCG) for what the host kernel lacks.

image         builds and caches the kernel, initramfs and root disk (recipe.py says what)
fleet         boots VMs (linked in pairs if asked) and removes all they leave behind
machine       one VM: qemu, qcow2 overlays, crash and restart
agent_client  runs commands in a VM through its guest agent (guest/agent.py)
guest_pytest  runs project test files inside a VM (selection.py lists them)

``python -m testbed.vm --help`` builds the image or runs commands in VMs.
"""
