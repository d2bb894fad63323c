"""One module per command group; :data:`edgedrill.cli.COMMAND_GROUPS` lists them in order."""
