"""A docs build hook: the site has a sitemap only when it knows its own address.

A sitemap lists each page by its full address, under the published site's
``site_url``. mkdocs.yml reads that from the ``NNKIT_DOCS_URL`` environment variable,
which the publishing build sets (docs/contributing.md). A build without it (a local
preview, the test suite) cannot name any address, and mkdocs would still write a
sitemap, listing no page, which tells a search engine that the site is empty: such a
build keeps no ``sitemap.xml`` (nor its ``.gz``) at all.
"""

from __future__ import annotations

from pathlib import Path

#: The files mkdocs writes for the sitemap, in the built site's root.
SITEMAP_FILES = ("sitemap.xml", "sitemap.xml.gz")


def on_post_build(config):  # mkdocs hook
    if config["site_url"]:
        return
    for name in SITEMAP_FILES:
        (Path(config["site_dir"]) / name).unlink(missing_ok=True)
