from ascendgen.cli import main

main()
