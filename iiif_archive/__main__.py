from iiif_archive.cli import main

main()
