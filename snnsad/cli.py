"""The command line's runs from Python: `load_run(RUN_DIR)` reads a `snnsad train` run folder back as
`Run(net, config, history, epoch)`. Part of the application (it rebuilds the CLI's networks); `import
snnsad` does not load it."""

from ._cli._runs import Run as Run
from ._cli._runs import open_run as load_run

__all__ = ["Run", "load_run"]
