"""``python -m hostsync`` runs the command line."""

from hostsync.cli import main

main()
