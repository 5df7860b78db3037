"""The reaches into other packages' internals, and only those (import: no other room).

Each reach names the package and the versions it was read against, and has a check that
``configure()`` runs once: an unsupported version fails there, loudly, naming the package and
its version, never later at run time.
"""
