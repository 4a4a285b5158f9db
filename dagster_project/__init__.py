"""highneeds' Dagster layer: definitions, CLI and settings (the logic lives in the plain libraries:
ingest/, checks/, forecast/, serving/, report/ and synthetic/)."""

import warnings

from dagster_shared.utils.warnings import BetaWarning

# We use some of Dagster's beta APIs knowingly (observable source assets, code references);
# their warnings would otherwise print on every load of the definitions.
warnings.filterwarnings("ignore", category=BetaWarning)
