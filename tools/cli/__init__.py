"""The `kvarter` command: one module per subcommand group (gateway, bins,
routes, lights, sim, node, demo), each of which parses its options, calls
domain code and prints. Options every group shares (--config, --db, HOST:PORT,
the one-line error) are in options.py.

May import anything of ours; nothing imports a command module but main.py."""
