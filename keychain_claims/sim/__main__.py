import sys

from keychain_claims.sim.cli import main

sys.exit(main())
