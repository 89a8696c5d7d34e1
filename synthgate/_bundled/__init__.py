"""What synthgate ships besides its code: the bundled profiles (`targets/`) and the stage suites (`suites/<stage>`).

In the repository these are relative symlinks to the top-level `targets/` and `tests/<stage>/` folders (the layout
a reader expects); setuptools follows them, so the wheel and the sdist carry real copies, and an editable install
reads the repository's own files.
"""
