from edgecloud.cli import main

main()
