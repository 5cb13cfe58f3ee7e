from iiif_server.cli import main

main()
