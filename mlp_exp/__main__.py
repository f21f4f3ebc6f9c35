"""`python -m mlp_exp` and the `mlp-exp` script."""

import sys


def main() -> None:
    try:
        from mlp_exp import cli
    except KeyboardInterrupt:  # Ctrl-C while the command's modules were being imported: nothing ran yet
        from mlp_exp.interrupt import BEFORE_TRAINING, exit_code

        print(BEFORE_TRAINING)
        sys.exit(exit_code(KeyboardInterrupt()))
    with cli.interrupt.quiet_exit():
        cli.main()


if __name__ == "__main__":
    main()
