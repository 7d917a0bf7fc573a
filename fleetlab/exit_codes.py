"""Every exit code of the `fleetlab` command, in one place (README "Exit codes")."""

EXIT_OK = 0               # every expectation holds (GO)
EXIT_NO_GO = 1            # an expectation failed: the table says which, with the numbers
EXIT_BAD_INPUT = 2        # the input is wrong (every problem listed), or the harness could not measure


def exit_interrupted(signal_number: int) -> int:
    """130 for SIGINT, 143 for SIGTERM: 128 + the signal's number, as a shell reports a process it stopped."""
    return 128 + signal_number
