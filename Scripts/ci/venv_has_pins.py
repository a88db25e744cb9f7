"""Exit 0 when every `name==version` argument is installed at exactly that version, else 1.

Used by moto.sh and safetensors-venv.sh to decide whether their venv needs `pip install`.
"""
import sys
from importlib.metadata import PackageNotFoundError, version

for pin in sys.argv[1:]:
    name, wanted = pin.split("==")
    try:
        if version(name).lower() != wanted.lower():
            sys.exit(1)
    except PackageNotFoundError:
        sys.exit(1)
