"""The first screens a console can open on (`--layout`, the config's `[layout] default`)."""

LAYOUTS = ("dashboard", "wall")
