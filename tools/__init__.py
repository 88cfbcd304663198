"""What people run: the technician's node tools, the demo, and the `kvarter`
command that gathers every subcommand group."""
