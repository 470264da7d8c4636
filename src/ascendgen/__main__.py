from ascendgen.cli.app import main

main()
