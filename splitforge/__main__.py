from splitforge.cli import main

main()
