from mlp_exp.cli import main

main()
