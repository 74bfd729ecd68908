"""A docs build hook: the site shows the version of nnkit it documents.

The version is read from the installed package when the site is built, and shown in
the header beside the site's name and in the footer of every page.
"""

from __future__ import annotations


def on_config(config):  # mkdocs hook
    import nnkit

    config["site_name"] = f"nnkit {nnkit.__version__}"
    config["copyright"] = f"nnkit {nnkit.__version__} · MIT licence"
    return config
