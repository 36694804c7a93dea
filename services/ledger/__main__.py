"""python -m services.ledger"""

from kit.service import run_service
from services.ledger.app import build
from services.ledger.settings import LedgerSettings

if __name__ == "__main__":
    run_service(LedgerSettings, build)
