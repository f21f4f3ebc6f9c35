import sys

try:
    from mlp_exp.cli import main
except KeyboardInterrupt:  # Ctrl-C while the command's modules were being imported: nothing ran yet
    from mlp_exp.interrupt import BEFORE_TRAINING, exit_code

    print(BEFORE_TRAINING)
    sys.exit(exit_code(KeyboardInterrupt()))

main()
