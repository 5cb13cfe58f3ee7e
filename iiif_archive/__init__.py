"""The platform: the Image API (``iiif_server``), the manifests (``manifests``) and the viewer
(``viewer``) assembled into one app and one command. The only package that imports all three."""
