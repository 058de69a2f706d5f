from sma_cli.main import main

main()
