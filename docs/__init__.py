"""The docs site (mkdocs-material; ``mkdocs.yml`` at the repository root).

The Markdown pages are the site; two of them are generated from the code that owns their
facts (``python -m docs.generate``), and ``hooks.py`` turns links to repository files outside
``docs/`` into links to the repository, failing the build on a missing file or anchor.
"""
