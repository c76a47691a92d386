from vnetlab.cli import main

main()
