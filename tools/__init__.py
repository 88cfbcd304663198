"""What people run: the `kvarter` command (tools/cli/, one module per group),
the technician's node tools (tools/field/), the battery table and the
firmware build.

May import anything of ours; nothing of ours imports tools/ but the tests."""
